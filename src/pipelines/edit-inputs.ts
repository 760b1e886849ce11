/** Turns inpaint / colorize inputs (images or tensors) into the (B, C, H, W) tensors the samplers take. */
import { assertFloat32, Tensor } from '../tensor.js';
import { imagesToTensor, PipelineImage } from './images.js';

/** One RGB image, one per batch row, or a float32 (B, C, H, W) tensor in [0, 1]. */
export type ImageInput = PipelineImage | readonly PipelineImage[] | Tensor<'float32'>;

/** (B, C, H, W) with C = 1 or 3 turned into `channels` channels: RGB → gray by the channel mean, gray → RGB. */
function withChannels(t: Tensor<'float32'>, channels: number, name: string): Tensor<'float32'> {
  const [b, c, h, w] = t.dims;
  if (c === channels) return t;
  const plane = h * w;
  const out = new Float32Array(b * channels * plane);
  if (c === 3 && channels === 1) {
    for (let n = 0; n < b; n++)
      for (let p = 0; p < plane; p++) {
        const at = (ch: number) => t.data[(n * 3 + ch) * plane + p];
        out[n * plane + p] = (at(0) + at(1) + at(2)) / 3;
      }
  } else if (c === 1 && channels === 3) {
    for (let n = 0; n < b; n++)
      for (let ch = 0; ch < 3; ch++)
        out.set(t.data.subarray(n * plane, (n + 1) * plane), (n * 3 + ch) * plane);
  } else {
    throw new RangeError(`${name} has ${c} channels, but the model takes ${channels}`);
  }
  return new Tensor('float32', out, [b, channels, h, w]);
}

/**
 * `input` as (B, C, H, W) with B = `batchSize` (a single image is repeated) and H×W the model's size; with
 * `channels`, RGB and gray inputs are converted to that many channels. `name` is the argument name used in errors.
 */
export function imageBatch(
  input: ImageInput,
  name: string,
  batchSize: number | undefined,
  [height, width]: [number, number],
  channels?: number,
): Tensor<'float32'> {
  let t: Tensor<'float32'>;
  if (input instanceof Tensor) {
    assertFloat32(input, name);
    if (input.rank !== 4)
      throw new RangeError(`${name} must be (B, C, H, W), got [${input.dims.join(', ')}]`);
    t = input;
  } else if (input instanceof PipelineImage) {
    t = imagesToTensor([input]);
  } else if (Array.isArray(input) && input.every((im) => im instanceof PipelineImage)) {
    t = imagesToTensor(input);
  } else {
    throw new TypeError(`${name} must be a PipelineImage, a list of them, or a float32 (B, C, H, W) Tensor`);
  }
  if (channels !== undefined) t = withChannels(t, channels, name);
  const [b, c, h, w] = t.dims;
  if (h !== height || w !== width) {
    throw new RangeError(`${name} is ${w}×${h}, but the model generates ${width}×${height} images`);
  }
  const rows = batchSize ?? b;
  if (!Number.isInteger(rows) || rows < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${rows}`);
  if (b === rows) return t;
  if (b !== 1) throw new RangeError(`${name} has ${b} rows but batchSize is ${rows}`);
  const row = t.data;
  const out = new Float32Array(rows * row.length);
  for (let n = 0; n < rows; n++) out.set(row, n * row.length);
  return new Tensor('float32', out, [rows, c, h, w]);
}

/**
 * A diffusers-style mask (white / 1 = repaint, black / 0 = keep; an RGB mask uses its channel mean, split at 0.5)
 * → the samplers' keep-mask (1 = keep), one channel: (B, 1, H, W).
 */
export function keepMask(mask: ImageInput, batchSize: number, size: [number, number]): Tensor<'float32'> {
  const m = imageBatch(mask, 'mask', batchSize, size);
  const [b, c, h, w] = m.dims;
  const plane = h * w;
  const out = new Float32Array(b * plane);
  for (let n = 0; n < b; n++) {
    for (let p = 0; p < plane; p++) {
      let sum = 0;
      for (let ch = 0; ch < c; ch++) sum += m.data[(n * c + ch) * plane + p];
      out[n * plane + p] = sum / c < 0.5 ? 1 : 0;
    }
  }
  return new Tensor('float32', out, [b, 1, h, w]);
}
