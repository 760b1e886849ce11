/** A folder of generated PNG images (as `scoresde sample` writes them) as one (N, C, H, W) float32 batch. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError } from '../errors.js';
import { decodePNG } from '../io/png.js';
import { readInputFile } from '../io/read-file.js';

export interface ImageBatch {
  /** (N, C, H, W) in [0, 1] (k/255). */
  data: Float32Array;
  dims: [number, number, number, number];
  files: string[];
}

export interface ReadSampleFolderOptions {
  /** Non-fatal news: entries skipped because they are not regular files. */
  onWarning?: (message: string) => void;
  /** Most bytes the float32 batch may take; more is refused before it is allocated. */
  maxBytes?: number;
}

/** The first `limit` sample PNGs of `dir` in name order (grids left out); warns of those that are not files. */
async function listSamples(
  dir: string,
  limit: number,
  onWarning: ((message: string) => void) | undefined,
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new FileFormatError(
      dir,
      `cannot read the samples folder (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  const candidates = names
    .filter((n) => n.toLowerCase().endsWith('.png') && !n.endsWith('-grid.png'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const files: string[] = [];
  const skipped: string[] = [];
  for (const n of candidates) {
    if (files.length >= limit) break;
    const s = await stat(join(dir, n)).catch(() => undefined); // follows links: a link to a PNG is a PNG
    if (s?.isFile()) files.push(join(dir, n));
    else skipped.push(n);
  }
  if (skipped.length > 0)
    onWarning?.(
      `${dir}: skipped ${skipped.length === 1 ? '1 .png entry that is not a regular file' : `${skipped.length} .png entries that are not regular files`} ` +
        `(${skipped.slice(0, 3).join(', ')}${skipped.length > 3 ? ', ...' : ''})`,
    );
  return files;
}

/**
 * Reads every `*.png` in `dir` except grids (`*-grid.png`), in name order, at most `limit`. Gray images give
 * C = 1, colour C = 3 (alpha dropped); all must share one size and channel count. Entries that are not regular
 * files (FIFOs, devices, folders, dangling links) are skipped and counted.
 */
export async function readSampleFolder(
  dir: string,
  limit = Number.POSITIVE_INFINITY,
  options: ReadSampleFolderOptions = {},
): Promise<ImageBatch> {
  const { onWarning, maxBytes = Number.POSITIVE_INFINITY } = options;
  const files = await listSamples(dir, limit, onWarning);
  if (files.length < 2) throw new FileFormatError(dir, `need at least 2 PNG images, found ${files.length}`);
  let data = new Float32Array(0);
  let shape: [number, number, number] | undefined;
  for (const [i, file] of files.entries()) {
    const image = decodePNG(await readInputFile(file, 'png'), file);
    const c = image.channels <= 2 ? 1 : 3;
    if (!shape) {
      shape = [c, image.height, image.width];
      const bytes = 4 * files.length * c * image.height * image.width;
      if (bytes > maxBytes)
        throw new FileFormatError(
          dir,
          `${files.length} images of ${c}×${image.height}×${image.width} (as ${file} is) need ` +
            `${(bytes / 2 ** 30).toFixed(1)} GiB, more than the ${(maxBytes / 2 ** 30).toFixed(1)} GiB allowed; ` +
            'evaluate fewer with --count, or raise --max-memory',
        );
      data = new Float32Array(files.length * c * image.height * image.width);
    } else if (shape[0] !== c || shape[1] !== image.height || shape[2] !== image.width) {
      throw new FileFormatError(
        file,
        `is ${image.width}×${image.height} with ${c} channel(s); the first image is ${shape[2]}×${shape[1]} with ${shape[0]}`,
      );
    }
    const plane = image.height * image.width;
    const base = i * c * plane;
    for (let p = 0; p < plane; p++)
      for (let k = 0; k < c; k++) data[base + k * plane + p] = image.data[p * image.channels + k] / 255;
  }
  const [c, h, w] = shape!;
  return { data, dims: [files.length, c, h, w], files };
}
