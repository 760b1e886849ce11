/**
 * EDM's Heun sampler (Karras et al. 2022, Algorithm 2) for VE models, in σ-space with the
 * derivative dx/dσ = −σ·score(x, σ), optional stochastic churn, and the ρ-schedule. NFE = 2·steps − 1.
 */
import { checkInteger, checkPositive, checkShape, drawNoise, initialState64 } from './common.js';
import { karrasSigmas } from './schedules.js';
import { ScoreCaller, toTensor } from './score-caller.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from './types.js';

export interface HeunOptions {
  /** Sample shape (B, C, H, W). */
  shape: readonly number[];
  /** Number of σ levels (EDM's `num_steps`); NFE = 2·steps − 1. */
  steps: number;
  sigmaMin: number;
  sigmaMax: number;
  /** Schedule exponent (EDM `rho`), default 7. */
  rho?: number;
  /** Total stochasticity (EDM `S_churn`), default 0 = deterministic ODE solve. */
  churn?: number;
  /** Churn only for σ in [churnSigmaMin, churnSigmaMax] (EDM `S_tmin`, `S_tmax`), default [0, ∞). */
  churnSigmaMin?: number;
  churnSigmaMax?: number;
  /** Scale of the churn noise (EDM `S_noise`), default 1. */
  churnNoise?: number;
}

export async function sampleHeun(
  score: ScoreFn,
  opts: HeunOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  checkShape(opts.shape);
  checkInteger(opts.steps, 'steps', 1);
  const churn = opts.churn ?? 0;
  checkPositive(churn, 'churn', true);
  const churnMin = opts.churnSigmaMin ?? 0;
  const churnMax = opts.churnSigmaMax ?? Number.POSITIVE_INFINITY;
  const churnNoise = opts.churnNoise ?? 1;
  const sigmas = karrasSigmas(opts.steps, opts.sigmaMin, opts.sigmaMax, opts.rho ?? 7);
  const n = opts.steps;
  const caller = new ScoreCaller(score, opts.shape, common.signal);

  let x = initialState64(opts.shape, common.generator, sigmas[0]);

  for (let i = 0; i < n; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    // Churn: raise the noise level to σ̂ = σ(1 + γ) by adding fresh noise, then solve the ODE from σ̂.
    const gamma =
      churn > 0 && sigma >= churnMin && sigma <= churnMax ? Math.min(churn / n, Math.SQRT2 - 1) : 0;
    const sigmaHat = sigma * (1 + gamma);
    if (gamma > 0) {
      const z = drawNoise(opts.shape, common.generator).data;
      const std = Math.sqrt(sigmaHat * sigmaHat - sigma * sigma) * churnNoise;
      for (let j = 0; j < x.length; j++) x[j] += std * z[j];
    }
    const d = await caller.dxdSigma(x, sigmaHat);
    // d = (x − D)/σ̂: the denoiser's estimate for the preview.
    const denoised = Float64Array.from(x, (v, j) => v - sigmaHat * d[j]);
    const h = next - sigmaHat;
    const euler = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) euler[j] = x[j] + h * d[j];
    if (next > 0) {
      // Heun's correction (trapezoid); skipped at σ = 0 where the derivative is undefined.
      const d2 = await caller.dxdSigma(euler, next);
      for (let j = 0; j < x.length; j++) euler[j] = x[j] + 0.5 * h * (d[j] + d2[j]);
    }
    x = euler;
    common.onStep?.({
      step: i,
      totalSteps: n,
      sigma,
      sample: toTensor(x, opts.shape),
      denoised: toTensor(denoised, opts.shape),
      nfe: caller.nfe,
    });
  }
  return { sample: toTensor(x, opts.shape), nfe: caller.nfe };
}
