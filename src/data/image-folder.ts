/**
 * An `ImageDataset` over a folder of image files, like torchvision's `ImageFolder`: recursive, sorted,
 * and class-labelled when every image sits in a top-level subfolder (label = index of the sorted names).
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { FileFormatError } from '../errors.js';
import { ByteLruCache } from './byte-cache.js';
import {
  decodeImage,
  IMAGE_EXTENSIONS,
  type ImageProbe,
  type ImageTarget,
  probeImage,
} from './image-decode.js';
import { mapLimit } from './map-limit.js';
import type { OpenImageDatasetOptions } from './options.js';
import { checkReadArgs, writeUnit } from './read-helpers.js';
import type { ImageDataset } from './types.js';

/** Hidden names (`.DS_Store`, `.git`) are not part of a dataset. */
const isHidden = (name: string) => name.startsWith('.');

/** Code-unit order of path segments: the same on every machine and locale. */
function comparePaths(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

interface Listing {
  /** Image candidates by extension, as path segments under the root, sorted. */
  images: string[][];
  /** Other files, for the message when there are no images. */
  others: string[];
}

/** Lists a folder recursively, following symlinks once (a link loop is visited once). */
async function listFolder(root: string, signal?: AbortSignal): Promise<Listing> {
  const images: string[][] = [];
  const others: string[] = [];
  const seen = new Set<string>();
  const walk = async (dir: string, rel: string[]) => {
    signal?.throwIfAborted();
    const real = await realpath(dir);
    if (seen.has(real)) return;
    seen.add(real);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      throw new FileFormatError(dir, `cannot list folder (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    for (const entry of entries) {
      if (isHidden(entry.name)) continue;
      const path = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const s = await stat(path).catch(() => undefined); // a dangling link is not an image
        isDir = s?.isDirectory() ?? false;
        isFile = s?.isFile() ?? false;
      }
      if (isDir) await walk(path, [...rel, entry.name]);
      else if (isFile && IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase()))
        images.push([...rel, entry.name]);
      else if (isFile) others.push([...rel, entry.name].join('/'));
    }
  };
  await walk(root, []);
  images.sort(comparePaths);
  others.sort();
  return { images, others };
}

/** The first bytes of a file, for format sniffing. */
async function readHead(file: string): Promise<Uint8Array> {
  const head = new Uint8Array(16);
  const fh = await open(file, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new FileFormatError(file, `cannot read file (${e.code ?? e.message})`);
  });
  try {
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class ImageFolderDataset implements ImageDataset {
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly #target: ImageTarget;
  readonly #cache: ByteLruCache<string>;
  readonly #shapes: readonly ImageProbe[];

  constructor(
    readonly source: string,
    /** The image files, in dataset order. */
    readonly files: readonly string[],
    shapes: readonly ImageProbe[],
    target: ImageTarget,
    cache: ByteLruCache<string>,
    readonly skipped: number,
    readonly labels?: Uint8Array,
    readonly classes?: readonly string[],
  ) {
    this.length = files.length;
    this.channels = target.channels;
    this.height = target.height;
    this.width = target.width;
    this.#target = target;
    this.#cache = cache;
    this.#shapes = shapes;
  }

  async read(index: number, out: Float32Array, offset = 0): Promise<void> {
    checkReadArgs(this, index, out, offset);
    const img = await this.#cache.get(this.files[index], (file) =>
      decodeImage(file, this.#target, this.#shapes[index]),
    );
    writeUnit(img, out, offset);
  }
}

/** ImageFolder's labels: the top-level subfolder of each image, when all have one and there are <= 256. */
function classLabels(images: readonly string[][]): { labels?: Uint8Array; classes?: string[] } {
  if (images.some((p) => p.length < 2)) return {};
  const classes = [...new Set(images.map((p) => p[0]))].sort();
  if (classes.length > 256) return {};
  const index = new Map(classes.map((c, i) => [c, i]));
  return { labels: Uint8Array.from(images, (p) => index.get(p[0]) ?? 0), classes };
}

/**
 * Opens a folder of images. Every file is checked when opened: decoded outright when all decoded images fit
 * in `cacheBytes` (they stay cached), else its header is read (format, size, pixel limit).
 */
export async function openImageFolder(
  root: string,
  target: ImageTarget,
  cacheBytes: number,
  options: OpenImageDatasetOptions,
): Promise<ImageFolderDataset> {
  const { skipUnreadable = false, onWarning, onProgress, signal, concurrency = 8 } = options;
  const { images, others } = await listFolder(root, signal);
  if (images.length === 0) {
    if (others.length === 0)
      throw new FileFormatError(root, 'folder is empty (no image files in it or below)');
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? ', ...' : '');
    throw new FileFormatError(
      root,
      `folder has no images: ${plural(others.length, 'file')} (${shown}), none ending in ${IMAGE_EXTENSIONS.join(' ')}`,
    );
  }
  if (others.length > 0 && onWarning) {
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? ', ...' : '');
    onWarning(`${root}: ignored ${plural(others.length, 'file')} without an image extension (${shown})`);
  }
  const imageBytes = target.channels * target.height * target.width;
  const eager = images.length * imageBytes <= cacheBytes;
  const cache = new ByteLruCache<string>(cacheBytes);
  const files = images.map((p) => join(root, ...p));
  let done = 0;
  const ok = await mapLimit(
    files,
    Math.max(1, concurrency),
    async (file) => {
      try {
        const probe = await probeImage(file, await readHead(file), target);
        if (eager) await cache.get(file, () => decodeImage(file, target, probe));
        return probe;
      } catch (e) {
        if (!(e instanceof FileFormatError) || !skipUnreadable) throw e;
        onWarning?.(`skipped ${e.message}`);
        return undefined;
      } finally {
        onProgress?.(++done, files.length);
      }
    },
    signal,
  );
  const kept = images.filter((_, i) => ok[i]);
  const skipped = images.length - kept.length;
  if (skipped > 0) onWarning?.(`${root}: skipped ${plural(skipped, 'unreadable image')} of ${images.length}`);
  if (kept.length === 0)
    throw new FileFormatError(root, `none of the ${plural(images.length, 'image')} could be read`);
  const { labels, classes } = classLabels(kept);
  const shapes = ok.filter((p) => p !== undefined);
  return new ImageFolderDataset(
    root,
    files.filter((_, i) => ok[i]),
    shapes,
    target,
    cache,
    skipped,
    labels,
    classes,
  );
}
