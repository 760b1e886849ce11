/**
 * Samplers by name, with per-sampler defaults, for the pipeline and the CLI.
 *
 * | name | method | network calls | defaults |
 * | --- | --- | --- | --- |
 * | `pc` | predictor–corrector (Song et al. 2021); default = diffusers' reverse diffusion + Langevin, bit-identical to ScoreSdeVePipeline | steps·(1 + correctSteps) | steps 2000, snr 0.15, correctSteps 1, samplingEps 1e-5, predictor 'reverse-diffusion', corrector 'langevin' |
 * | `ode` | probability-flow ODE, adaptive Dormand–Prince RK45 | adaptive (reported) | rtol 1e-5, atol 1e-5, eps 1e-5, denoise true |
 * | `heun` | EDM Heun (Karras et al. 2022, Alg. 2), ρ-schedule | 2·steps − 1 | steps 50, rho 7, churn 0 |
 * | `dpmpp-2m` | DPM-Solver++(2M) in σ-space, ρ-schedule | steps | steps 50, rho 7 |
 *
 * Every sampler: sigmaMin 0.01, sigmaMax 1348 (diffusers' ScoreSdeVeScheduler defaults; pass the model's
 * scheduler config). Options a sampler does not use are ignored; unknown option names are an error.
 * Samples are in the model's data range ([0, 1] for diffusers' NCSN++ checkpoints), unclamped.
 */
import { DEFAULT_NUM_INFERENCE_STEPS } from '../diffusers.js';
import { SCORE_SDE_VE_OPTION_DEFAULTS as SVE } from '../schedulers/score-sde-ve-config.js';
import type { Tensor } from '../tensor.js';
import { colorizePc, inpaintPc } from './conditional.js';
import { sampleDpmSolver2M } from './dpmpp-2m.js';
import { sampleHeun } from './heun.js';
import { type PcCorrector, type PcOptions, type PcPredictor, samplePc } from './pc.js';
import { sampleProbabilityFlow } from './probability-flow.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from './types.js';

export const SAMPLER_NAMES = ['pc', 'ode', 'heun', 'dpmpp-2m'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** One line per sampler, for help texts. */
export const SAMPLER_DESCRIPTIONS: Readonly<Record<SamplerName, string>> = Object.freeze({
  pc: "predictor-corrector (default: diffusers' reverse diffusion + Langevin, 2 calls per step)",
  ode: 'probability-flow ODE with adaptive RK45 (deterministic, calls chosen by rtol/atol)',
  heun: "EDM's Heun sampler on the rho-schedule (2 calls per step, optional churn)",
  'dpmpp-2m': 'DPM-Solver++(2M) on the rho-schedule (1 call per step)',
});

/** Everything a sampler may take; see the table above for which sampler reads what. */
export interface SamplerOptions {
  /** Sample shape (B, C, H, W). */
  shape: readonly number[];
  /** Steps (diffusers `num_inference_steps` for `pc`; EDM `num_steps` for `heun`, `dpmpp-2m`). Not for `ode`. */
  steps?: number;
  /** Smallest noise level (diffusers `sigma_min`). */
  sigmaMin?: number;
  /** Largest noise level and initial noise scale (diffusers `sigma_max`). */
  sigmaMax?: number;
  /** pc: corrector signal-to-noise ratio (diffusers `snr`). */
  snr?: number;
  /** pc: corrector steps per step (diffusers `correct_steps`). */
  correctSteps?: number;
  /** pc: last continuous time (diffusers `sampling_eps`). */
  samplingEps?: number;
  /** pc: diffusers `num_train_timesteps` (scheduler's initial tables only). */
  numTrainTimesteps?: number;
  /** pc: 'reverse-diffusion' | 'euler-maruyama' | 'ancestral'. */
  predictor?: PcPredictor;
  /** pc: 'langevin' | 'annealed-langevin' | 'none'. */
  corrector?: PcCorrector;
  /** heun, dpmpp-2m: schedule exponent (EDM `rho`). */
  rho?: number;
  /** heun: stochasticity (EDM `S_churn`). */
  churn?: number;
  /** heun: churn only for σ in [churnSigmaMin, churnSigmaMax] (EDM `S_tmin`, `S_tmax`). */
  churnSigmaMin?: number;
  churnSigmaMax?: number;
  /** heun: churn noise scale (EDM `S_noise`). */
  churnNoise?: number;
  /** ode: RK45 relative tolerance (score_sde `rtol`). */
  rtol?: number;
  /** ode: RK45 absolute tolerance (score_sde `atol`). */
  atol?: number;
  /** ode: integrate down to t = eps (score_sde `eps`). */
  eps?: number;
  /** ode: final Tweedie denoising step (score_sde `denoise`). */
  denoise?: boolean;
}

const KNOWN_OPTIONS = new Set([
  'shape',
  'steps',
  'sigmaMin',
  'sigmaMax',
  'snr',
  'correctSteps',
  'samplingEps',
  'numTrainTimesteps',
  'predictor',
  'corrector',
  'rho',
  'churn',
  'churnSigmaMin',
  'churnSigmaMax',
  'churnNoise',
  'rtol',
  'atol',
  'eps',
  'denoise',
]);

/** diffusers' ScoreSdeVeScheduler defaults. */
export const COMMON_DEFAULTS = Object.freeze({ sigmaMin: SVE.sigmaMin, sigmaMax: SVE.sigmaMax });

/** Per-sampler defaults (documented in the table above). */
export const SAMPLER_DEFAULTS = Object.freeze({
  pc: Object.freeze({
    steps: DEFAULT_NUM_INFERENCE_STEPS,
    snr: SVE.snr,
    correctSteps: SVE.correctSteps,
    samplingEps: SVE.samplingEps,
    predictor: 'reverse-diffusion' as PcPredictor,
    corrector: 'langevin' as PcCorrector,
  }),
  ode: Object.freeze({ rtol: 1e-5, atol: 1e-5, eps: 1e-5, denoise: true }),
  heun: Object.freeze({ steps: 50, rho: 7, churn: 0 }),
  'dpmpp-2m': Object.freeze({ steps: 50, rho: 7 }),
});

function checkOptionNames(options: object, where: string): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${where}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key))
      throw new RangeError(`${where}: unknown option '${key}'; known: ${[...KNOWN_OPTIONS].join(', ')}`);
  }
}

/** Drops undefined values so that defaults apply. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function pcOptions(o: Partial<SamplerOptions>): Omit<PcOptions, 'shape'> {
  return {
    ...COMMON_DEFAULTS,
    ...SAMPLER_DEFAULTS.pc,
    ...pick(defined(o), [
      'steps',
      'sigmaMin',
      'sigmaMax',
      'snr',
      'correctSteps',
      'samplingEps',
      'numTrainTimesteps',
      'predictor',
      'corrector',
    ]),
  };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]])) as Pick<T, K>;
}

/** Runs sampler `name` on `score` with its defaults under `options`. */
export async function runSampler(
  name: SamplerName,
  score: ScoreFn,
  options: SamplerOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  checkOptionNames(options, `runSampler('${name}')`);
  if (typeof score !== 'function')
    throw new TypeError('runSampler: score must be a function (x, sigma) => Promise<Tensor>');
  const o = defined(options);
  const base = { ...COMMON_DEFAULTS, ...pick(o, ['sigmaMin', 'sigmaMax']), shape: options.shape };
  switch (name) {
    case 'pc':
      return samplePc(score, { ...pcOptions(o), shape: options.shape }, common);
    case 'ode':
      return sampleProbabilityFlow(
        score,
        { ...base, ...SAMPLER_DEFAULTS.ode, ...pick(o, ['rtol', 'atol', 'eps', 'denoise']) },
        common,
      );
    case 'heun':
      return sampleHeun(
        score,
        {
          ...base,
          ...SAMPLER_DEFAULTS.heun,
          ...pick(o, ['steps', 'rho', 'churn', 'churnSigmaMin', 'churnSigmaMax', 'churnNoise']),
        },
        common,
      );
    case 'dpmpp-2m':
      return sampleDpmSolver2M(
        score,
        { ...base, ...SAMPLER_DEFAULTS['dpmpp-2m'], ...pick(o, ['steps', 'rho']) },
        common,
      );
    default:
      throw new RangeError(`unknown sampler ${JSON.stringify(name)}; known: ${SAMPLER_NAMES.join(', ')}`);
  }
}

/** PC settings for the conditional samplers (defaults as for `pc`). */
export type ConditionalOptions = Omit<SamplerOptions, 'shape'>;

export interface InpaintOptions extends ConditionalOptions {
  /** Known image (B, C, H, W) in the model's data range ([0, 1] for diffusers' NCSN++ checkpoints). */
  image: Tensor<'float32'>;
  /** 1 = keep the image's value, 0 = fill in; the image's shape or broadcastable, e.g. (1, 1, H, W). */
  mask: Tensor<'float32'>;
}

/** PC inpainting (score_sde's pc_inpainter): keeps `image` where mask = 1 and samples the rest. */
export async function inpaint(
  score: ScoreFn,
  options: InpaintOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  const { image, mask, ...rest } = options;
  checkOptionNames(rest, 'inpaint');
  return inpaintPc(score, image, mask, pcOptions(rest), common);
}

export interface ColorizeOptions extends ConditionalOptions {
  /** Luminance (B, 1, H, W), or (B, 3, H, W) whose channel mean is used, in the model's data range. */
  grayImage: Tensor<'float32'>;
}

/** PC colorization (score_sde's pc_colorizer): (B, 3, H, W) samples whose channel mean is `grayImage`. */
export async function colorize(
  score: ScoreFn,
  options: ColorizeOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  const { grayImage, ...rest } = options;
  checkOptionNames(rest, 'colorize');
  return colorizePc(score, grayImage, pcOptions(rest), common);
}
