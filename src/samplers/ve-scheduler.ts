/**
 * diffusers' ScoreSdeVeScheduler, set up as ScoreSdeVePipeline sets it up, behind the narrow interface the
 * PC samplers use, so the reverse-diffusion predictor and Langevin corrector share its float32 kernels.
 */
import type { Generator } from '../random/generator.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import type { ScoreSdeVeSchedulerConfig } from '../schedulers/score-sde-ve-config.js';
import type { Tensor } from '../tensor.js';

export interface VeSchedulerSettings {
  steps: number;
  sigmaMin: number;
  sigmaMax: number;
  snr: number;
  samplingEps: number;
  correctSteps: number;
  numTrainTimesteps?: number;
}

/** A scheduler config as the sampler settings every pipeline (Node and web) passes its samplers. */
export function schedulerSamplerSettings(c: ScoreSdeVeSchedulerConfig): Omit<VeSchedulerSettings, 'steps'> {
  return {
    sigmaMin: c.sigma_min,
    sigmaMax: c.sigma_max,
    snr: c.snr,
    correctSteps: c.correct_steps,
    samplingEps: c.sampling_eps,
    numTrainTimesteps: c.num_train_timesteps,
  };
}

export interface VeScheduler {
  /** t = linspace(1, samplingEps, steps) (float32, torch's linspace). */
  timesteps: Float32Array;
  /** The σ the network sees at each step (diffusers `sigmas`). */
  sigmas: Float32Array;
  /** The σ table step_pred indexes (diffusers `discrete_sigmas`). */
  discreteSigmas: Float32Array;
  initNoiseSigma: number;
  /** diffusers `step_correct(...).prev_sample`. */
  stepCorrect(
    modelOutput: Tensor<'float32'>,
    sample: Tensor<'float32'>,
    generator: Generator | Generator[] | undefined,
  ): Tensor<'float32'>;
  /** diffusers `step_pred(...)`. */
  stepPred(
    modelOutput: Tensor<'float32'>,
    timestep: number,
    sample: Tensor<'float32'>,
    generator: Generator | Generator[] | undefined,
  ): { prevSample: Tensor<'float32'>; prevSampleMean: Tensor<'float32'> };
}

/** A scheduler with `setTimesteps(steps)` then `setSigmas(steps)`, the pipeline's order. */
export function createVeScheduler(s: VeSchedulerSettings): VeScheduler {
  const scheduler = new ScoreSdeVeScheduler({
    sigmaMin: s.sigmaMin,
    sigmaMax: s.sigmaMax,
    snr: s.snr,
    samplingEps: s.samplingEps,
    correctSteps: s.correctSteps,
    numTrainTimesteps: s.numTrainTimesteps,
  });
  scheduler.setTimesteps(s.steps);
  scheduler.setSigmas(s.steps);
  return {
    timesteps: scheduler.timesteps.data as Float32Array,
    sigmas: scheduler.sigmas.data as Float32Array,
    discreteSigmas: scheduler.discreteSigmas.data as Float32Array,
    initNoiseSigma: scheduler.initNoiseSigma,
    stepCorrect: (m, x, generator) => scheduler.stepCorrect(m, x, { generator }).prevSample,
    stepPred: (m, t, x, generator) => {
      const out = scheduler.stepPred(m, t, x, { generator });
      return { prevSample: out.prevSample, prevSampleMean: out.prevSampleMean };
    },
  };
}
