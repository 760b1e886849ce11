/**
 * Predictor–corrector sampling (Song et al. 2021, Algorithms 2–3) for VE models on diffusers'
 * schedule. Predictors: reverse diffusion (diffusers' `step_pred`), Euler–Maruyama, ancestral;
 * correctors: Langevin (diffusers' `step_correct`), annealed Langevin, none.
 *
 * Reverse diffusion and Langevin call ScoreSdeVeScheduler itself, so the default pair is bit-identical to
 * ScoreSdeVePipeline: same σ values, same float32 maths, same random draws in the same order
 * (σmax·z, then per step: `correctSteps` × (score, corrector noise), score, predictor noise).
 */
import { Tensor } from '../tensor.js';
import {
  callScore,
  checkInteger,
  checkPositive,
  checkShape,
  drawNoise,
  initialNoise,
  sigmaVector,
  throwIfAborted,
} from './common.js';
import { ancestralStep, annealedLangevinStep, eulerMaruyamaStep, langevinLikeUpdate } from './pc-steps.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from './types.js';
import { createVeScheduler } from './ve-scheduler.js';

export const PC_PREDICTORS = ['reverse-diffusion', 'euler-maruyama', 'ancestral'] as const;
export const PC_CORRECTORS = ['langevin', 'annealed-langevin', 'none'] as const;
export type PcPredictor = (typeof PC_PREDICTORS)[number];
export type PcCorrector = (typeof PC_CORRECTORS)[number];

export interface PcOptions {
  /** Sample shape (B, C, H, W). */
  shape: readonly number[];
  /** Predictor steps (diffusers `num_inference_steps`). */
  steps: number;
  /** diffusers `sigma_min`. */
  sigmaMin: number;
  /** diffusers `sigma_max`. */
  sigmaMax: number;
  /** Corrector signal-to-noise ratio (diffusers `snr`). */
  snr: number;
  /** Corrector steps per predictor step (diffusers `correct_steps`). */
  correctSteps: number;
  /** End of the time grid, t = linspace(1, samplingEps, steps) (diffusers `sampling_eps`). */
  samplingEps: number;
  /** diffusers `num_train_timesteps` (only sets the scheduler's initial state). */
  numTrainTimesteps?: number;
  predictor: PcPredictor;
  corrector: PcCorrector;
}

/**
 * Re-imposes known information after every update (inpainting / colorization): `x` is the new sample at
 * noise level `sigma`, `mean` its noise-free estimate when the update has one. Both are edited in place.
 */
export interface PcConstraint {
  apply(x: Float32Array, mean: Float32Array | undefined, sigma: number): void;
}

/** PC sampling from σmax·z. */
export async function samplePc(
  score: ScoreFn,
  opts: PcOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  return runPc(score, opts, common);
}

/**
 * The PC loop. `start` (optional) replaces the initial σmax·z; it is called with the drawn noise
 * already scaled so that inpainting can mix in known values. diffusers' loop (corrector steps, then the
 * predictor) with every predictor and corrector as one loop: one loop per algorithm.
 */
export async function runPc(
  score: ScoreFn,
  opts: PcOptions,
  common: SamplerCommon,
  constraint?: PcConstraint & { start?(x: Float32Array): void },
): Promise<SamplerResult> {
  checkPcOptions(opts);
  const { shape, predictor, corrector } = opts;
  const batch = shape[0];
  const generator = common.generator;
  const scheduler = createVeScheduler(opts);
  const { timesteps, sigmas, discreteSigmas } = scheduler;
  const n = timesteps.length;

  let sample = initialNoise(shape, generator, scheduler.initNoiseSigma);
  constraint?.start?.(sample.data);

  let sampleMean = sample;
  let nfe = 0;
  const evalScore = async (x: Tensor<'float32'>, sigmaT: Float32Array) => {
    throwIfAborted(common.signal);
    const out = await callScore(score, x, sigmaT);
    nfe++;
    return out;
  };

  for (let i = 0; i < n; i++) {
    const sigmaT = sigmaVector(batch, sigmas[i]);
    for (let c = 0; c < (corrector === 'none' ? 0 : opts.correctSteps); c++) {
      const modelOutput = await evalScore(sample, sigmaT);
      if (corrector === 'langevin') {
        sample = scheduler.stepCorrect(modelOutput, sample, generator);
      } else {
        const noise = drawNoise(shape, generator);
        const { step, std } = annealedLangevinStep(opts.snr, sigmas[i]);
        sample = new Tensor(
          'float32',
          langevinLikeUpdate(sample.data, modelOutput.data, noise.data, step, std).prev,
          shape,
        );
      }
      constraint?.apply(sample.data, undefined, sigmas[i]);
    }

    const modelOutput = await evalScore(sample, sigmaT);
    // The denoiser's estimate at the predictor's input, for previews: x + σ²·score.
    const s2 = sigmas[i] * sigmas[i];
    const denoised = new Tensor(
      'float32',
      Float32Array.from(sample.data, (v, j) => v + s2 * modelOutput.data[j]),
      shape,
    );
    let sigmaNext: number;
    if (predictor === 'reverse-diffusion') {
      const out = scheduler.stepPred(modelOutput, timesteps[i], sample, generator);
      sample = out.prevSample;
      sampleMean = out.prevSampleMean;
      sigmaNext = discreteAdjacent(discreteSigmas, timesteps[i], n).next;
    } else {
      let sigma: number;
      if (predictor === 'ancestral') {
        ({ sigma, next: sigmaNext } = discreteAdjacent(discreteSigmas, timesteps[i], n));
      } else {
        sigma = sigmas[i];
        sigmaNext = i + 1 < n ? sigmas[i + 1] : 0;
      }
      const { step, std } =
        predictor === 'ancestral' ? ancestralStep(sigma, sigmaNext) : eulerMaruyamaStep(sigma, sigmaNext);
      const noise = drawNoise(shape, generator);
      const out = langevinLikeUpdate(sample.data, modelOutput.data, noise.data, step, std);
      sample = new Tensor('float32', out.prev, shape);
      sampleMean = new Tensor('float32', out.mean, shape);
    }
    if (constraint) {
      // Own copies: the scheduler's outputs are not ours to edit.
      sample = sample.clone();
      sampleMean = sampleMean.clone();
      constraint.apply(sample.data, sampleMean.data, sigmaNext);
    }
    common.onStep?.({ step: i, totalSteps: n, sigma: sigmas[i], sample, sampleMean, denoised, nfe });
  }
  return { sample: sampleMean, nfe };
}

/** step_pred's σ and adjacent σ: index = trunc(f32(t·(N − 1))) into the discrete sigmas, adjacent 0 at index 0. */
function discreteAdjacent(
  discreteSigmas: Float32Array,
  t: number,
  n: number,
): { sigma: number; next: number } {
  const index = Math.trunc(Math.fround(t * (n - 1)));
  return { sigma: discreteSigmas[index], next: index === 0 ? 0 : discreteSigmas[index - 1] };
}

export function checkPcOptions(opts: PcOptions): void {
  checkShape(opts.shape);
  checkInteger(opts.steps, 'steps', 1);
  checkInteger(opts.correctSteps, 'correctSteps', 0);
  checkPositive(opts.snr, 'snr', true);
  if (!(PC_PREDICTORS as readonly string[]).includes(opts.predictor)) {
    throw new RangeError(
      `predictor must be one of ${PC_PREDICTORS.join(', ')}; got ${JSON.stringify(opts.predictor)}`,
    );
  }
  if (!(PC_CORRECTORS as readonly string[]).includes(opts.corrector)) {
    throw new RangeError(
      `corrector must be one of ${PC_CORRECTORS.join(', ')}; got ${JSON.stringify(opts.corrector)}`,
    );
  }
}
