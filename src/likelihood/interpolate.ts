/**
 * Latent interpolation through the probability-flow ODE (Song et al. 2021, §4.3): encode two images to their
 * latents at t = 1, interpolate the latents spherically (they are ≈ σmax·N(0, I), so a straight line would
 * pass through atypically short vectors), decode every frame. Encoding and decoding are the sampler's
 * `encodeProbabilityFlow` / `decodeProbabilityFlow` (deterministic, no denoising step), so the first and
 * last frames are the round trip of the inputs and their distance to the inputs measures the solver error.
 */
import {
  decodeProbabilityFlow,
  encodeProbabilityFlow,
  type ProbabilityFlowOptions,
} from '../samplers/probability-flow.js';
import type { SamplerCommon, ScoreFn } from '../samplers/types.js';
import { assertFloat32, Tensor } from '../tensor.js';

/**
 * Spherical interpolation between a and b (same length) at α ∈ [0, 1]:
 * sin((1−α)θ)/sin θ·a + sin(αθ)/sin θ·b with θ the angle between them (linear when θ ≈ 0).
 */
export function slerp(a: ArrayLike<number>, b: ArrayLike<number>, alpha: number): Float64Array {
  if (a.length !== b.length) throw new RangeError(`slerp: lengths differ (${a.length}, ${b.length})`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  const cos = Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
  const theta = Math.acos(cos);
  const sin = Math.sin(theta);
  const [wa, wb] = !(sin > 1e-7)
    ? [1 - alpha, alpha]
    : [Math.sin((1 - alpha) * theta) / sin, Math.sin(alpha * theta) / sin];
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}

export interface InterpolateResult {
  /** The decoded frames (K, C, H, W), unclamped; frame 0 decodes a's latent and frame K−1 b's. */
  frames: Tensor<'float32'>;
  /** The two latents (2, C, H, W). */
  latents: Tensor<'float32'>;
  /** max |decode(encode(x)) − x| over each input: [a, b]. */
  roundTripError: [number, number];
  /** Network calls (encode + decode). */
  nfe: number;
}

/**
 * Encodes a and b (each (1, C, H, W), or (2, C, H, W) holding both as `a`), slerps their latents at K evenly
 * spaced α ∈ [0, 1] and decodes the K frames as one batch.
 */
export async function interpolateImages(
  score: ScoreFn,
  a: Tensor<'float32'>,
  b: Tensor<'float32'>,
  frames: number,
  opts: ProbabilityFlowOptions,
  common: Pick<SamplerCommon, 'signal' | 'onStep'> = {},
): Promise<InterpolateResult> {
  assertFloat32(a, 'a');
  assertFloat32(b, 'b');
  if (a.dims[0] !== 1 || b.dims[0] !== 1 || a.dims.join() !== b.dims.join()) {
    throw new RangeError(`a and b must both be (1, C, H, W) of one size, got [${a.dims}] and [${b.dims}]`);
  }
  if (!(Number.isInteger(frames) && frames >= 2))
    throw new RangeError(`frames must be an integer ≥ 2, got ${frames}`);
  const row = a.numel;
  const pair = new Float32Array(2 * row);
  pair.set(a.data);
  pair.set(b.data, row);
  const sampleDims = a.dims.slice(1);
  const encoded = await encodeProbabilityFlow(
    score,
    new Tensor('float32', pair, [2, ...sampleDims]),
    opts,
    common,
  );
  const za = encoded.latent.data.subarray(0, row);
  const zb = encoded.latent.data.subarray(row);
  const latents = new Float32Array(frames * row);
  for (let k = 0; k < frames; k++) {
    const alpha = k / (frames - 1);
    latents.set(alpha === 0 ? za : alpha === 1 ? zb : slerp(za, zb, alpha), k * row);
  }
  const decoded = await decodeProbabilityFlow(
    score,
    new Tensor('float32', latents, [frames, ...sampleDims]),
    { ...opts, denoise: false },
    common,
  );
  const maxDiff = (x: Float32Array, off: number) => {
    let m = 0;
    for (let i = 0; i < row; i++) m = Math.max(m, Math.abs(decoded.sample.data[off + i] - x[i]));
    return m;
  };
  return {
    frames: decoded.sample,
    latents: encoded.latent,
    roundTripError: [maxDiff(a.data, 0), maxDiff(b.data, (frames - 1) * row)],
    nfe: encoded.nfe + decoded.nfe,
  };
}
