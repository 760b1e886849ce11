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
 * scheduler config). Which sampler reads which option is SAMPLER_OPTION_TABLE: an option for another sampler is
 * an error, except the scheduler-config settings (σ range, snr, corrector steps), which every sampler accepts.
 * Samples are in the model's data range ([0, 1] for diffusers' NCSN++ checkpoints), unclamped.
 */

import { DEFAULT_NUM_INFERENCE_STEPS } from '../diffusers.js';
import type { GaussianStatistics } from '../math/gaussian.js';
import { Generator } from '../random/generator.js';
import { SCORE_SDE_VE_OPTION_DEFAULTS as SVE } from '../schedulers/score-sde-ve-config.js';
import { Tensor } from '../tensor.js';
import { colorizePc, inpaintPc } from './conditional.js';
import { sampleDpmSolver2M } from './dpmpp-2m.js';
import { gaussianNormScore, gaussianSwitchScore } from './gaussian-switch.js';
import { sampleHeun } from './heun.js';
import {
  PC_CORRECTORS,
  PC_PREDICTORS,
  type PcCorrector,
  type PcOptions,
  type PcPredictor,
  samplePc,
} from './pc.js';
import { sampleProbabilityFlow } from './probability-flow.js';
import type { SamplerCommon, SamplerResult, SamplerStep, ScoreFn } from './types.js';

export const SAMPLER_NAMES = ['pc', 'ode', 'heun', 'dpmpp-2m'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/** UNet calls per image (the table above); undefined for the adaptive ODE. */
export function networkCalls(
  name: SamplerName,
  steps: number | undefined,
  correctSteps: number,
): number | undefined {
  if (steps === undefined || name === 'ode') return undefined;
  if (name === 'pc') return steps * (1 + correctSteps);
  return name === 'heun' ? 2 * steps - 1 : steps;
}

/**
 * UNet calls per image of sampler `name` under `options`: `networkCalls`, less the evaluations above
 * `gaussianAbove`, which the Gaussian answers alone. The σ schedule decides which those are, so they are counted
 * by running the sampler on a one-value sample with a free score. Undefined for the adaptive ODE.
 */
export async function networkCallsWith(
  name: SamplerName,
  options: Omit<SamplerOptions, 'shape' | 'gaussian'>,
): Promise<number | undefined> {
  if (name === 'ode') return undefined;
  const { gaussianAbove, gaussianNormAbove: _, ...rest } = options;
  let calls = 0;
  const free: ScoreFn = async (x, sigma) => {
    if (gaussianAbove === undefined || sigma.some((s) => !(s > gaussianAbove))) calls++;
    return new Tensor('float32', new Float32Array(x.data.length), x.dims);
  };
  await runSampler(name, free, { ...rest, shape: [1, 1, 1, 1] }, { generator: new Generator() });
  return calls;
}

/** One line per sampler, for help texts. */
export const SAMPLER_DESCRIPTIONS: Readonly<Record<SamplerName, string>> = Object.freeze({
  pc: "predictor-corrector, diffusers' loop (2 calls/step)",
  ode: 'probability-flow ODE, adaptive RK45 (rtol/atol)',
  heun: "EDM's Heun, rho-schedule (2 calls/step, optional churn)",
  'dpmpp-2m': 'DPM-Solver++(2M), rho-schedule (1 call/step)',
});

/** Everything a sampler may take; `SAMPLER_OPTION_TABLE` says which sampler reads what. */
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
  /**
   * Every sampler: above this σ, the score of the training data's Gaussian (`gaussian`) replaces the network's
   * (gaussian-switch.ts). Not in diffusers.
   */
  gaussianAbove?: number;
  /**
   * Every sampler: above this σ, the network's score keeps its direction and takes the norm of the Gaussian's
   * score (the noise-norm correction, gaussian-switch.ts); rows above `gaussianAbove` take the Gaussian's
   * score whole. Not in diffusers.
   */
  gaussianNormAbove?: number;
  /** The Gaussian for `gaussianAbove` and `gaussianNormAbove` (a pipeline passes its model's gaussian.safetensors). */
  gaussian?: GaussianStatistics;
}

export type SamplerOptionName = Exclude<keyof SamplerOptions, 'shape'>;

/** How the command line spells an option (`scoresde sample --<flag> <arg>`), with its help text. */
export interface SamplerOptionFlag {
  flag: string;
  arg: string;
  help: string;
  /** The values it may take, when a list. */
  choices?: readonly string[];
}

export interface SamplerOptionInfo {
  /** The samplers that read this option. */
  samplers: readonly SamplerName[];
  /**
   * A scheduler-config setting (σ range, snr, corrector steps…): the pipeline passes the scheduler config to
   * every sampler, so samplers that do not read it accept and ignore it. Every other option is refused by a
   * sampler that does not read it. diffusers' own loop takes exactly these and `steps`.
   */
  scheduler?: true;
  /** Its command-line flag, if it has one. */
  cli?: SamplerOptionFlag;
}

const ALL = SAMPLER_NAMES;

/**
 * THE table of which sampler reads which option. It drives `runSampler`'s validation, the CLI's flag
 * checks (`--sampler heun --snr 0.2` is refused) and the CLI's help text.
 */
export const SAMPLER_OPTION_TABLE: Readonly<Record<SamplerOptionName, SamplerOptionInfo>> = Object.freeze({
  steps: {
    samplers: ['pc', 'heun', 'dpmpp-2m'],
    cli: { flag: 'steps', arg: '<n>', help: 'steps, diffusers num_inference_steps' },
  },
  sigmaMin: { samplers: ALL, scheduler: true },
  sigmaMax: {
    samplers: ALL,
    scheduler: true,
    cli: {
      flag: 'sigma-max',
      arg: '<x>',
      help: 'largest noise level σ_max (overrides the scheduler config)',
    },
  },
  snr: {
    samplers: ['pc'],
    scheduler: true,
    cli: {
      flag: 'snr',
      arg: '<x>',
      help: 'corrector signal-to-noise ratio (overrides the scheduler config)',
    },
  },
  correctSteps: {
    samplers: ['pc'],
    scheduler: true,
    cli: { flag: 'corrector-steps', arg: '<n>', help: 'corrector steps per step, diffusers correct_steps' },
  },
  samplingEps: { samplers: ['pc'], scheduler: true },
  numTrainTimesteps: { samplers: ['pc'], scheduler: true },
  predictor: {
    samplers: ['pc'],
    cli: { flag: 'predictor', arg: '<name>', help: 'predictor', choices: PC_PREDICTORS },
  },
  corrector: {
    samplers: ['pc'],
    cli: { flag: 'corrector', arg: '<name>', help: 'corrector', choices: PC_CORRECTORS },
  },
  rho: {
    samplers: ['heun', 'dpmpp-2m'],
    cli: { flag: 'rho', arg: '<x>', help: 'exponent of the σ schedule' },
  },
  churn: {
    samplers: ['heun'],
    cli: { flag: 'churn', arg: '<x>', help: 'stochastic churn S_churn (0: deterministic)' },
  },
  churnSigmaMin: { samplers: ['heun'] },
  churnSigmaMax: { samplers: ['heun'] },
  churnNoise: { samplers: ['heun'] },
  rtol: { samplers: ['ode'], cli: { flag: 'rtol', arg: '<x>', help: 'RK45 relative tolerance' } },
  atol: { samplers: ['ode'], cli: { flag: 'atol', arg: '<x>', help: 'RK45 absolute tolerance' } },
  eps: { samplers: ['ode'] },
  denoise: { samplers: ['ode'] },
  gaussianAbove: {
    samplers: ALL,
    cli: {
      flag: 'gaussian-above',
      arg: '<σ|off>',
      help: "above this σ, use the training data's Gaussian score (the model's gaussian.safetensors)",
    },
  },
  gaussianNormAbove: {
    samplers: ALL,
    cli: {
      flag: 'gaussian-norm-above',
      arg: '<σ|off>',
      help: "above this σ, rescale the network's score to the norm of the Gaussian's (corrects the noise's size; on by default for the bundled model)",
    },
  },
  gaussian: { samplers: ALL },
} satisfies Record<SamplerOptionName, SamplerOptionInfo>);

const OPTION_NAMES = Object.keys(SAMPLER_OPTION_TABLE) as SamplerOptionName[];

/** The options `name` reads. */
export function samplerOptionNames(name: SamplerName): SamplerOptionName[] {
  return OPTION_NAMES.filter((k) => SAMPLER_OPTION_TABLE[k].samplers.includes(name));
}

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

/** What each sampler is: a description, its defaults, and whether batch rows are independent. */
export interface SamplerInfo {
  /** One line for help texts. */
  description: string;
  /** Defaults of the options it reads (besides COMMON_DEFAULTS). */
  defaults: Readonly<Partial<Record<SamplerOptionName, unknown>>>;
  /**
   * True when each batch row depends only on its own noise, so that a batch of images with one generator per
   * row gives the same images as one image at a time. pc: diffusers' Langevin step size averages norms over
   * the batch; ode: RK45 chooses one step size for the whole batch.
   */
  rowsIndependent: boolean;
}

export const SAMPLERS = Object.freeze({
  pc: { description: SAMPLER_DESCRIPTIONS.pc, defaults: SAMPLER_DEFAULTS.pc, rowsIndependent: false },
  // Each image is solved with its own adaptive steps (probability-flow.ts).
  ode: { description: SAMPLER_DESCRIPTIONS.ode, defaults: SAMPLER_DEFAULTS.ode, rowsIndependent: true },
  heun: { description: SAMPLER_DESCRIPTIONS.heun, defaults: SAMPLER_DEFAULTS.heun, rowsIndependent: true },
  'dpmpp-2m': {
    description: SAMPLER_DESCRIPTIONS['dpmpp-2m'],
    defaults: SAMPLER_DEFAULTS['dpmpp-2m'],
    rowsIndependent: true,
  },
} as const satisfies Record<SamplerName, SamplerInfo>);

/**
 * Refuses option names nobody knows, and options for another sampler (`sampler` undefined: the conditional
 * PC samplers, which read what `pc` reads).
 */
function checkOptionNames(options: object, where: string, sampler: SamplerName): void {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${where}: options must be an object`);
  for (const [key, value] of Object.entries(options)) {
    if (key === 'shape') continue;
    const info = SAMPLER_OPTION_TABLE[key as SamplerOptionName] as SamplerOptionInfo | undefined;
    if (info === undefined || !Object.hasOwn(SAMPLER_OPTION_TABLE, key))
      throw new RangeError(`${where}: unknown option '${key}'; known: ${OPTION_NAMES.join(', ')}`);
    if (value === undefined || info.scheduler || info.samplers.includes(sampler)) continue;
    throw new RangeError(
      `${where}: option '${key}' is for ${info.samplers.join(', ')}, not ${sampler}; remove it or use another sampler`,
    );
  }
}

/** Drops undefined values so that defaults apply. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `o`'s settings that sampler `name` reads, over COMMON_DEFAULTS and the sampler's defaults. */
function settingsFor(name: SamplerName, o: object): Record<string, unknown> {
  const given = defined(o) as Record<string, unknown>;
  const read = samplerOptionNames(name).filter((k) => k in given);
  return {
    ...COMMON_DEFAULTS,
    ...SAMPLERS[name].defaults,
    ...Object.fromEntries(read.map((k) => [k, given[k]])),
  };
}

function pcOptions(o: object): Omit<PcOptions, 'shape'> {
  return settingsFor('pc', o) as unknown as Omit<PcOptions, 'shape'>;
}

/** Runs sampler `name` on `score` with its defaults under `options`. */
export async function runSampler(
  name: SamplerName,
  score: ScoreFn,
  options: SamplerOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  if (!(SAMPLER_NAMES as readonly string[]).includes(name))
    throw new RangeError(`unknown sampler ${JSON.stringify(name)}; known: ${SAMPLER_NAMES.join(', ')}`);
  checkOptionNames(options, `runSampler('${name}')`, name);
  if (typeof score !== 'function')
    throw new TypeError('runSampler: score must be a function (x, sigma) => Promise<Tensor>');
  const settings = { ...settingsFor(name, options), shape: options.shape };
  // With a safety net, nfe counts the network's calls: an evaluation the Gaussian answers alone is free.
  let calls = 0;
  const network: ScoreFn = (x, sigma) => {
    calls++;
    return score(x, sigma);
  };
  const netted = withSafetyNet(network, options, `runSampler('${name}')`);
  if (netted === network) return runNamed(name, score, settings, common);
  const { onStep } = common;
  const counted = { ...common, onStep: onStep && ((s: SamplerStep) => onStep({ ...s, nfe: calls })) };
  const result = await runNamed(name, netted, settings, counted);
  return { ...result, nfe: calls };
}

function runNamed(
  name: SamplerName,
  score: ScoreFn,
  settings: Record<string, unknown>,
  common: SamplerCommon,
): Promise<SamplerResult> {
  switch (name) {
    case 'pc':
      return samplePc(score, settings as unknown as PcOptions, common);
    case 'ode':
      return sampleProbabilityFlow(
        score,
        settings as unknown as Parameters<typeof sampleProbabilityFlow>[1],
        common,
      );
    case 'heun':
      return sampleHeun(score, settings as unknown as Parameters<typeof sampleHeun>[1], common);
    case 'dpmpp-2m':
      return sampleDpmSolver2M(score, settings as unknown as Parameters<typeof sampleDpmSolver2M>[1], common);
  }
}

/**
 * `score` with the Gaussian safety nets that are set (each then needs `gaussian`): the noise-norm correction
 * above `gaussianNormAbove`, and above `gaussianAbove` the Gaussian's score whole.
 */
function withSafetyNet(
  score: ScoreFn,
  o: { gaussianAbove?: number; gaussianNormAbove?: number; gaussian?: GaussianStatistics },
  where: string,
) {
  const set = (['gaussianNormAbove', 'gaussianAbove'] as const).filter((k) => o[k] !== undefined);
  if (set.length === 0) return score;
  if (!o.gaussian)
    throw new RangeError(
      `${where}: ${set[0]} needs the training data's Gaussian (gaussian.safetensors beside the model)`,
    );
  if (o.gaussianNormAbove !== undefined) score = gaussianNormScore(score, o.gaussian, o.gaussianNormAbove);
  if (o.gaussianAbove !== undefined) score = gaussianSwitchScore(score, o.gaussian, o.gaussianAbove);
  return score;
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
  checkOptionNames(rest, 'inpaint', 'pc');
  return inpaintPc(withSafetyNet(score, rest, 'inpaint'), image, mask, pcOptions(rest), common);
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
  checkOptionNames(rest, 'colorize', 'pc');
  return colorizePc(withSafetyNet(score, rest, 'colorize'), grayImage, pcOptions(rest), common);
}
