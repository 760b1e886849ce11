/**
 * Inpainting and colorization with predictor–corrector sampling, as in the Score SDE paper (Appendix I.2;
 * score_sde's get_pc_inpainter / get_pc_colorizer): after every predictor and corrector update the known
 * part (pixels, or the luminance channel of an orthonormal colour transform) is replaced by the data
 * noised to the sample's current level, data + σ·z. At the final level σ = 0 the known part is exact.
 * Unlike score_sde, which re-noises at the step's starting σ after both updates, the predictor's output
 * gets the σ it actually stepped down to.
 *
 * Known limitation of this (replacement) method: it is exact when the known part either decides the
 * mode while the rest is still very noisy (e.g. half an image) or says nothing about it; when the known part
 * is only weakly informative, the unknown part commits to a mode before the known part can steer it. On the
 * 2-D mixture 0.7·N((0, −2), 0.25) + 0.3·N((0.3, 2), 0.25) with x₀ = 0.6 known, p(upper mode | x₀) = 0.42 but
 * the sampler gives ≈ 0.32 (the prior 0.3), at 100–500 steps and also with RePaint-style resampling.
 */
import { assertFloat32, type Tensor } from '../tensor.js';
import { drawNoise } from './common.js';
import { type PcConstraint, type PcOptions, runPc } from './pc.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from './types.js';

/**
 * Samples x with x = image wherever mask = 1. `image` (B, ...) is in the model's data range; `mask`
 * has the image's shape or broadcasts to it over leading/channel dimensions of size 1 (e.g. (1, 1, H, W)),
 * with values 0 (fill in) or 1 (known).
 */
export async function inpaintPc(
  score: ScoreFn,
  image: Tensor<'float32'>,
  mask: Tensor<'float32'>,
  opts: Omit<PcOptions, 'shape'>,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  assertFloat32(image, 'image');
  const known = broadcastMask(mask, image.dims);
  const data = image.data;
  const shape = image.dims;
  const constraint: PcConstraint & { start(x: Float32Array): void } = {
    start(x) {
      for (let i = 0; i < x.length; i++) if (known[i]) x[i] = data[i];
    },
    apply(x, mean, sigma) {
      const z = drawNoise(shape, common.generator).data;
      const s = Math.fround(sigma);
      for (let i = 0; i < x.length; i++) {
        if (!known[i]) continue;
        x[i] = Math.fround(data[i] + Math.fround(s * z[i]));
        if (mean) mean[i] = data[i];
      }
    },
  };
  return runPc(score, { ...opts, shape }, common, constraint);
}

/** Columns: the luminance direction (1,1,1)/√3 and two orthonormal chroma directions (score_sde's M). */
const M = [
  [1 / Math.sqrt(3), -2 / Math.sqrt(6), 0],
  [1 / Math.sqrt(3), 1 / Math.sqrt(6), 1 / Math.sqrt(2)],
  [1 / Math.sqrt(3), 1 / Math.sqrt(6), -1 / Math.sqrt(2)],
];

/**
 * Samples colour images (B, 3, ...) whose per-pixel channel mean equals `grayImage`, which is (B, 1, ...)
 * (the luminance) or (B, 3, ...) (its channel mean is used), in the model's data range.
 */
export async function colorizePc(
  score: ScoreFn,
  grayImage: Tensor<'float32'>,
  opts: Omit<PcOptions, 'shape'>,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  assertFloat32(grayImage, 'grayImage');
  const dims = grayImage.dims;
  if (dims.length < 3 || (dims[1] !== 1 && dims[1] !== 3)) {
    throw new RangeError(`grayImage must be (B, 1, H, W) or (B, 3, H, W), got [${dims.join(', ')}]`);
  }
  const shape = [dims[0], 3, ...dims.slice(2)];
  const plane = dims.slice(2).reduce((a, b) => a * b, 1);
  const batch = dims[0];
  // The known coordinate: decoupled channel 0 = (R + G + B)/√3 = √3 · luminance.
  const lum = new Float64Array(batch * plane);
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < plane; p++) {
      let v = 0;
      for (let c = 0; c < dims[1]; c++) v += grayImage.data[(b * dims[1] + c) * plane + p];
      lum[b * plane + p] = (v / dims[1]) * Math.sqrt(3);
    }
  }
  // Replaces decoupled channel 0 of every pixel of `x` by `value(b, p)`, keeping the chroma channels.
  const setLuminance = (x: Float32Array, value: (i: number) => number) => {
    for (let b = 0; b < batch; b++) {
      for (let p = 0; p < plane; p++) {
        const i0 = b * 3 * plane + p;
        const rgb = [x[i0], x[i0 + plane], x[i0 + 2 * plane]];
        const y = [0, 1, 2].map((j) => rgb[0] * M[0][j] + rgb[1] * M[1][j] + rgb[2] * M[2][j]);
        y[0] = value(b * plane + p);
        for (let c = 0; c < 3; c++) x[i0 + c * plane] = y[0] * M[c][0] + y[1] * M[c][1] + y[2] * M[c][2];
      }
    }
  };
  const constraint: PcConstraint & { start(x: Float32Array): void } = {
    start(x) {
      setLuminance(x, (i) => lum[i]);
    },
    apply(x, mean, sigma) {
      // score_sde draws noise of the full shape and keeps its channel 0 (in decoupled space).
      const z = drawNoise(shape, common.generator).data;
      setLuminance(x, (i) => lum[i] + sigma * z[Math.floor(i / plane) * 3 * plane + (i % plane)]);
      if (mean) setLuminance(mean, (i) => lum[i]);
    },
  };
  return runPc(score, { ...opts, shape }, common, constraint);
}

/** The mask as one 0/1 flag per image element; validates values and broadcasting. */
function broadcastMask(mask: Tensor<'float32'>, dims: readonly number[]): Uint8Array {
  assertFloat32(mask, 'mask');
  const md =
    mask.dims.length < dims.length
      ? [...new Array(dims.length - mask.dims.length).fill(1), ...mask.dims]
      : mask.dims;
  if (md.length !== dims.length || md.some((d, i) => d !== dims[i] && d !== 1)) {
    throw new RangeError(
      `mask [${mask.dims.join(', ')}] does not broadcast to the image [${dims.join(', ')}]`,
    );
  }
  for (const v of mask.data) {
    if (v !== 0 && v !== 1) throw new RangeError(`mask values must be 0 (fill in) or 1 (known), got ${v}`);
  }
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n);
  const strides = md.map((_, i) => md.slice(i + 1).reduce((a, b) => a * b, 1));
  const idx = new Array(dims.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let k = 0; k < dims.length; k++) if (md[k] !== 1) off += idx[k] * strides[k];
    out[i] = mask.data[off];
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}
