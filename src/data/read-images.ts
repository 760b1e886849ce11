/** A run of a data set's images as one buffer (evaluation and the classifier's training read them whole). */
import type { ImageDataset } from './types.js';

export interface ReadImagesOptions {
  /** Called every 1024 images and at the end. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Values in one image of `ds`: C·H·W. */
export const imageSize = (ds: ImageDataset): number => ds.channels * ds.height * ds.width;

/** Images [start, start + count) of `ds` as one (count, C, H, W) buffer. */
export async function readImages(
  ds: ImageDataset,
  start: number,
  count: number,
  options: ReadImagesOptions = {},
): Promise<Float32Array> {
  const size = imageSize(ds);
  const out = new Float32Array(count * size);
  for (let i = 0; i < count; i++) {
    if (i % 1024 === 0) {
      options.signal?.throwIfAborted();
      options.onProgress?.(i, count);
    }
    await ds.read(start + i, out, i * size);
  }
  options.onProgress?.(count, count);
  return out;
}
