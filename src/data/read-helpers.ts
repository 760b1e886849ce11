/** Shared parts of `ImageDataset.read`: argument checks and the uint8 -> [0, 1] conversion. */
import type { ImageDataset } from './types.js';

/** k/255 as float32 for every byte (torchvision ToTensor: `img.float().div(255)`, correctly rounded). */
export const UNIT_FROM_BYTE: Float32Array = Float32Array.from({ length: 256 }, (_, k) => k / 255);

/** Throws a RangeError for an index outside the dataset or an `out` too short for one image at `offset`. */
export function checkReadArgs(ds: ImageDataset, index: number, out: Float32Array, offset: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= ds.length) {
    throw new RangeError(`${ds.source}: image index ${index} is outside [0, ${ds.length})`);
  }
  const size = ds.channels * ds.height * ds.width;
  if (!(out instanceof Float32Array)) throw new TypeError('read: out must be a Float32Array');
  if (!Number.isInteger(offset) || offset < 0 || offset + size > out.length) {
    throw new RangeError(
      `read: out (length ${out.length}) has no room for ${size} values at offset ${offset}`,
    );
  }
}

/** Writes (C, H, W) uint8 `image` as k/255 float32 into `out` at `offset`. */
export function writeUnit(image: Uint8Array, out: Float32Array, offset: number): void {
  for (let i = 0; i < image.length; i++) out[offset + i] = UNIT_FROM_BYTE[image[i]];
}
