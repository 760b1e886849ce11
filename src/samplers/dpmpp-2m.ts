/**
 * DPM-Solver++(2M) (Lu et al. 2022; k-diffusion's sample_dpmpp_2m) for VE models: a second-order
 * multistep solver of the probability-flow ODE in λ = −log σ on the denoiser D(x, σ) = x + σ²·score.
 * One network call per step (NFE = steps), on the ρ-schedule.
 */
import { checkInteger, checkShape, initialState64 } from './common.js';
import { karrasSigmas } from './schedules.js';
import { ScoreCaller, toTensor } from './score-caller.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from './types.js';

export interface DpmSolverOptions {
  /** Sample shape (B, C, H, W). */
  shape: readonly number[];
  /** Number of σ levels = network calls. */
  steps: number;
  sigmaMin: number;
  sigmaMax: number;
  /** Schedule exponent (EDM `rho`), default 7. */
  rho?: number;
}

export async function sampleDpmSolver2M(
  score: ScoreFn,
  opts: DpmSolverOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  checkShape(opts.shape);
  checkInteger(opts.steps, 'steps', 1);
  const sigmas = karrasSigmas(opts.steps, opts.sigmaMin, opts.sigmaMax, opts.rho ?? 7);
  const n = opts.steps;
  const caller = new ScoreCaller(score, opts.shape, common.signal);

  const x = initialState64(opts.shape, common.generator, sigmas[0]);

  let oldDenoised: Float64Array | undefined;
  for (let i = 0; i < n; i++) {
    const sigma = sigmas[i];
    const next = sigmas[i + 1];
    const denoised = await caller.denoise(x, sigma);
    if (next === 0) {
      // λ → ∞: the exact step lands on the denoiser output.
      x.set(denoised);
    } else {
      const h = Math.log(sigma / next); // λ_next − λ
      const ratio = next / sigma;
      const phi = -Math.expm1(-h); // 1 − σ_next/σ, kept accurate for small h
      let dd = denoised;
      if (oldDenoised) {
        // Second order: extrapolate D linearly in λ from the previous step.
        const r = Math.log(sigmas[i - 1] / sigma) / h;
        const a = 1 + 1 / (2 * r);
        const b = 1 / (2 * r);
        dd = new Float64Array(x.length);
        for (let j = 0; j < x.length; j++) dd[j] = a * denoised[j] - b * oldDenoised[j];
      }
      for (let j = 0; j < x.length; j++) x[j] = ratio * x[j] + phi * dd[j];
    }
    oldDenoised = denoised;
    common.onStep?.({
      step: i,
      totalSteps: n,
      sigma,
      sample: toTensor(x, opts.shape),
      sampleMean: toTensor(denoised, opts.shape),
      denoised: toTensor(denoised, opts.shape),
      nfe: caller.nfe,
    });
  }
  return { sample: toTensor(x, opts.shape), nfe: caller.nfe };
}
