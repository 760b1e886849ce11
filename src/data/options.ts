/** Options of `openImageDataset` and their checks (a bad request fails before any file is read). */
import { ConfigError } from '../errors.js';
import type { ImageTarget, ResizeMode } from './image-decode.js';

export interface OpenImageDatasetOptions {
  /** The model's `in_channels`: 1 (luminance) or 3 (RGB). */
  channels: number;
  /** The model's `sample_size` (height, width). */
  height: number;
  width: number;
  /** IDX folders: which files, `train-*` or `t10k-*` / `test-*` (default 'train'). */
  split?: 'train' | 'test';
  /**
   * How images reach the model size: 'resize' scales the short side and centre-crops (default for
   * folders); 'pad' places them centred on black, for images no larger than the model (default for IDX).
   */
  resize?: ResizeMode;
  /** Skip unreadable or unsuitable images (counted in `skipped`, reported through `onWarning`) instead of failing. */
  skipUnreadable?: boolean;
  /** Non-fatal news: skipped and ignored files. */
  onWarning?: (message: string) => void;
  /** Largest width·height an image file may declare (default 2^26, e.g. 8192x8192); checked from the header. */
  maxInputPixels?: number;
  /**
   * Bytes of decoded images kept in memory (default 512 MiB). A folder whose decoded images fit is decoded
   * entirely when opened (so every file is checked up front); a larger one keeps an LRU cache.
   */
  cacheBytes?: number;
  /** Files probed or decoded at once when opening a folder (default 8). */
  concurrency?: number;
  /** Progress while opening a folder: files checked so far of the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_INPUT_PIXELS = 2 ** 26;
export const DEFAULT_CACHE_BYTES = 512 * 2 ** 20;
/** Largest model side we accept (a typo guard; diffusers' largest UNet2DModel sample_size is 1024). */
export const MAX_SIDE = 4096;

/** The decoding target, checked. */
export function checkTarget(options: OpenImageDatasetOptions, defaultResize: ResizeMode): ImageTarget {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('openImageDataset: options must be an object');
  const {
    channels,
    height,
    width,
    resize = defaultResize,
    maxInputPixels = DEFAULT_MAX_INPUT_PIXELS,
  } = options;
  if (channels !== 1 && channels !== 3) {
    throw new ConfigError(`openImageDataset: channels must be 1 or 3, got ${channels}`);
  }
  for (const [k, v] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) {
      throw new ConfigError(`openImageDataset: ${k} must be an integer in [1, ${MAX_SIDE}], got ${v}`);
    }
  }
  if (resize !== 'resize' && resize !== 'pad') {
    throw new ConfigError(
      `openImageDataset: resize must be 'resize' or 'pad', got ${JSON.stringify(resize)}`,
    );
  }
  if (!Number.isInteger(maxInputPixels) || maxInputPixels < 1) {
    throw new ConfigError(
      `openImageDataset: maxInputPixels must be a positive integer, got ${maxInputPixels}`,
    );
  }
  return { channels, height, width, resize, maxInputPixels };
}

export function checkCacheBytes(options: OpenImageDatasetOptions): number {
  const { cacheBytes = DEFAULT_CACHE_BYTES } = options;
  if (!Number.isInteger(cacheBytes) || cacheBytes < 0) {
    throw new ConfigError(`openImageDataset: cacheBytes must be a non-negative integer, got ${cacheBytes}`);
  }
  return cacheBytes;
}
