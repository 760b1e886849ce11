/** A folder of generated PNG images (as `scoresde sample` writes them) as one (N, C, H, W) float32 batch. */
import { readdir } from 'node:fs/promises';
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

/**
 * Reads every `*.png` in `dir` except grids (`*-grid.png`), in name order. Gray images give C = 1, colour
 * C = 3 (alpha dropped); all must share one size and channel count.
 */
export async function readSampleFolder(dir: string, limit = Number.POSITIVE_INFINITY): Promise<ImageBatch> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new FileFormatError(
      dir,
      `cannot read the samples folder (${(e as NodeJS.ErrnoException).code ?? e})`,
    );
  }
  const files = names
    .filter((n) => n.toLowerCase().endsWith('.png') && !n.endsWith('-grid.png'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .slice(0, limit)
    .map((n) => join(dir, n));
  if (files.length < 2) throw new FileFormatError(dir, `need at least 2 PNG images, found ${files.length}`);
  let data = new Float32Array(0);
  let shape: [number, number, number] | undefined;
  for (const [i, file] of files.entries()) {
    const image = decodePNG(await readInputFile(file, 'png'), file);
    const c = image.channels <= 2 ? 1 : 3;
    if (!shape) {
      shape = [c, image.height, image.width];
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
