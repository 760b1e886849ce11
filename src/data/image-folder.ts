/**
 * An `ImageDataset` over a folder of image files, like torchvision's `ImageFolder`: recursive, sorted,
 * and class-labelled when every image sits in a top-level subfolder (label = index of the sorted names).
 */
import { FileFormatError } from '../errors.js';
import { readInputFile, readInputFileSync } from '../io/read-file.js';
import { ByteLruCache } from './byte-cache.js';
import { type FolderListing, type FsPath, walkFolder } from './folder-walk.js';
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

/**
 * Folders of at most this many images are decoded whole when opened (every pixel checked up front, ~5 ms an
 * image); larger ones have their headers checked when opened and are decoded as they are first read, so that
 * indexing 100,000 files takes seconds rather than minutes.
 */
export const EAGER_DECODE_MAX_FILES = 2048;

const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

export class ImageFolderDataset implements ImageDataset {
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly #target: ImageTarget;
  readonly #cache: ByteLruCache<FsPath>;
  readonly #shapes: readonly ImageProbe[];

  constructor(
    readonly source: string,
    /** The image files, in dataset order (raw bytes for a name that is not UTF-8). */
    readonly files: readonly FsPath[],
    shapes: readonly ImageProbe[],
    target: ImageTarget,
    cache: ByteLruCache<FsPath>,
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
    // the key is the path itself (a Buffer path is the same object each time)
    const img = await this.#cache.get(this.files[index], async (file) => {
      const bytes = await readInputFile(file, 'image');
      return decodeImage({ name: String(file), bytes }, this.#target, this.#shapes[index]);
    });
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

/** Warns of the listing's special entries and non-image files; refuses a folder without images. */
function checkListing(root: string, listing: FolderListing, onWarning?: (message: string) => void): void {
  const { files: images, others, skipped: specials } = listing;
  if (specials.length > 0) {
    const shown = specials.slice(0, 3).map((s) => `${s.name}: ${s.why}`);
    onWarning?.(
      `${root}: skipped ${plural(specials.length, 'entry', 'entries')} that ${specials.length === 1 ? 'is' : 'are'} ` +
        `not a regular file or folder inside it (${shown.join('; ')}${specials.length > 3 ? '; ...' : ''})`,
    );
  }
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
}

/**
 * Each image's probe (undefined: unreadable and skipped), decoding it into `cache` as well when `eager`;
 * an unreadable image stops the opening unless `skipUnreadable`.
 */
async function probeImages(
  images: FolderListing['files'],
  target: ImageTarget,
  cache: ByteLruCache<FsPath> | undefined,
  options: OpenImageDatasetOptions,
) {
  const { skipUnreadable = false, onWarning, onProgress, signal, concurrency = 8 } = options;
  let done = 0;
  return mapLimit(
    images,
    Math.max(1, concurrency),
    async ({ path }, i) => {
      // a macrotask now and then: reads are synchronous, and progress and Ctrl-C need the event loop
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
      try {
        const image = { name: String(path), bytes: readInputFileSync(path, 'image') };
        const probe = await probeImage(image, target);
        if (cache) await cache.get(path, () => decodeImage(image, target, probe));
        return probe;
      } catch (e) {
        if (!(e instanceof FileFormatError) || !skipUnreadable) throw e;
        onWarning?.(`skipped ${e.message}`);
        return undefined;
      } finally {
        onProgress?.(++done, images.length);
      }
    },
    signal,
  );
}

/**
 * Opens a folder of images. Every file is checked when opened: decoded outright when there are at most
 * EAGER_DECODE_MAX_FILES and all decoded images fit in `cacheBytes` (they stay cached), else its header is
 * read (format, size, pixel limit).
 */
export async function openImageFolder(
  root: string,
  target: ImageTarget,
  cacheBytes: number,
  options: OpenImageDatasetOptions,
): Promise<ImageFolderDataset> {
  const { onWarning, onProgress, signal } = options;
  const listing = await walkFolder(root, {
    extensions: IMAGE_EXTENSIONS,
    signal,
    onProgress: (entries) => onProgress?.(0, entries),
  });
  checkListing(root, listing, onWarning);
  const images = listing.files;
  const imageBytes = target.channels * target.height * target.width;
  const eager = images.length <= EAGER_DECODE_MAX_FILES && images.length * imageBytes <= cacheBytes;
  const cache = new ByteLruCache<FsPath>(cacheBytes);
  const ok = await probeImages(images, target, eager ? cache : undefined, options);
  const kept = images.filter((_, i) => ok[i]);
  const skipped = images.length - kept.length;
  if (skipped > 0) onWarning?.(`${root}: skipped ${plural(skipped, 'unreadable image')} of ${images.length}`);
  if (kept.length === 0)
    throw new FileFormatError(root, `none of the ${plural(images.length, 'image')} could be read`);
  const { labels, classes } = classLabels(kept.map((e) => e.segments));
  const shapes = ok.filter((p) => p !== undefined);
  return new ImageFolderDataset(
    root,
    kept.map((e) => e.path),
    shapes,
    target,
    cache,
    skipped,
    labels,
    classes,
  );
}
