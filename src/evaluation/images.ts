/**
 * Bringing generated images to the real data's format before they are compared: the same channel count,
 * the same size (a model trained on 28×28 padded to 32×32 is centre-cropped back to 28×28) and the same 8-bit
 * quantisation (what a user saves as PNG, and what the real IDX data are).
 */
import { roundHalfEven } from '../math/float32.js';

/**
 * (B, C, H, W) images in [0, 1] → (B, outChannels, size, size): centre-cropped, channels averaged to one when
 * `outChannels` is 1 and the input has 3 (an RGB render of a grayscale image has three equal channels).
 */
export function centreCropChannels(
  images: Float32Array,
  dims: readonly number[],
  size: number,
  outChannels: number,
): Float32Array {
  const [b, c, h, w] = dims;
  if (dims.length !== 4 || b * c * h * w !== images.length)
    throw new RangeError(`images: expected (B, C, H, W) data, got [${dims.join(', ')}]`);
  if (h < size || w < size || (h - size) % 2 !== 0 || (w - size) % 2 !== 0)
    throw new RangeError(`images: ${h}×${w} images cannot be centre-cropped to ${size}×${size}`);
  if (c !== outChannels && !(outChannels === 1 && c === 3))
    throw new RangeError(`images: ${c}-channel images where ${outChannels} channel(s) are needed`);
  const oy = (h - size) / 2;
  const ox = (w - size) / 2;
  const out = new Float32Array(b * outChannels * size * size);
  for (let n = 0; n < b; n++) {
    for (let k = 0; k < outChannels; k++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          let v = 0;
          if (c === outChannels) v = images[((n * c + k) * h + y + oy) * w + x + ox];
          else {
            for (let j = 0; j < c; j++) v += images[((n * c + j) * h + y + oy) * w + x + ox];
            v /= c;
          }
          out[((n * outChannels + k) * size + y) * size + x] = v;
        }
      }
    }
  }
  return out;
}

/**
 * Clamps to [0, 1] and rounds to k/255 in place exactly as the saved PNG holds it (diffusers' `numpy_to_pil`:
 * the float32 product v·255, rounded half to even), so evaluating images in memory and evaluating the files
 * `scoresde sample` writes give the same numbers.
 */
export function quantize8Bit(images: Float32Array): Float32Array {
  for (let i = 0; i < images.length; i++) {
    const v = images[i];
    // NaN → 0, as astype(uint8) leaves it; the evaluator counts NaN pixels separately.
    images[i] = Number.isNaN(v) ? 0 : roundHalfEven(Math.fround(Math.min(Math.max(v, 0), 1) * 255)) / 255;
  }
  return images;
}

/** (B, H, W, C) → (B, C, H, W) (the pipeline's 'np' output layout → the model's). */
export function nhwcToNchw(
  data: Float32Array,
  dims: readonly number[],
): { data: Float32Array; dims: number[] } {
  const [b, h, w, c] = dims;
  const out = new Float32Array(data.length);
  for (let n = 0; n < b; n++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((n * c + k) * h + y) * w + x] = data[((n * h + y) * w + x) * c + k];
  return { data: out, dims: [b, c, h, w] };
}
