/**
 * The random draws of score_sde's continuous VE loss (losses.py `get_sde_loss_fn`, sde_lib.py `VESDE`) for
 * one batch, from the torch-exact Generator in score_sde's order:
 *   t = rand(B) · (T − eps) + eps      (T = 1, eps = 1e-5; float32 as torch: mul, then add)
 *   z = randn_like(x0)                 (B, C, H, W)
 *   σ = σ_min · (σ_max / σ_min)^t      (VESDE.marginal_prob's std)
 */
import type { Generator } from '../random/index.js';
import { rand, randn } from '../random/index.js';
import { allocationSigmas, isScoreSdeDraw, type SigmaAllocation } from './sigma-sampling.js';

/**
 * score_sde's VESDE noise range (configs/default_*_configs.py: sigma_min 0.01, sigma_max 50): the training
 * default, and the range every preset trains with.
 */
export const DEFAULT_SIGMA_MIN = 0.01;
export const DEFAULT_SIGMA_MAX = 50;

/** score_sde's `eps` of the continuous loss: t is drawn from U(eps, T). */
export const TRAINING_EPS = 1e-5;

export interface NoiseDraw {
  /** (B) continuous times in [eps, 1). */
  t: Float32Array;
  /** (B) noise levels σ(t). */
  sigma: Float32Array;
  /** (B, C, H, W) standard normal noise. */
  z: Float32Array;
}

/**
 * VESDE's marginal std σ_min·(σ_max/σ_min)^t in float32: Python's `float ** Tensor` is a float32 pow of
 * the rounded ratio (torch's vectorised powf is within 1 ulp of this correctly rounded one), then × σ_min.
 */
export function vesdeSigma(t: Float32Array, sigmaMin: number, sigmaMax: number): Float32Array {
  const ratio = Math.fround(sigmaMax / sigmaMin);
  const smin = Math.fround(sigmaMin);
  return t.map((ti) => Math.fround(smin * Math.fround(ratio ** ti)));
}

/**
 * One batch's t, σ and z: `rand(B)` then `randn(shape)` from `generator`. With another σ allocation than
 * score_sde's (sigma-sampling.ts) the same uniforms pick σ through that allocation's inverse CDF, and t is the
 * σ's position on the log scale, ln(σ/σ_min)/ln(σ_max/σ_min).
 */
export function drawNoise(
  generator: Generator,
  shape: readonly [number, number, number, number],
  sigmaMin: number,
  sigmaMax: number,
  allocation?: SigmaAllocation,
): NoiseDraw {
  const batch = shape[0];
  const u = rand([batch], { generator }).data as Float32Array;
  if (allocation && !isScoreSdeDraw(allocation)) {
    const sigma = allocationSigmas(allocation, u, sigmaMin, sigmaMax);
    const logRange = Math.log(sigmaMax / sigmaMin);
    const t = sigma.map((s) => Math.log(s / sigmaMin) / logRange);
    return { t, sigma, z: randn(shape, { generator }).data as Float32Array };
  }
  const span = Math.fround(1 - TRAINING_EPS);
  const eps = Math.fround(TRAINING_EPS);
  const t = u.map((ui) => Math.fround(Math.fround(ui * span) + eps));
  const z = randn(shape, { generator }).data as Float32Array;
  return { t, sigma: vesdeSigma(t, sigmaMin, sigmaMax), z };
}
