/**
 * ScoreSdeVePipeline: unconditional image generation with a variance-exploding score SDE
 * (predictor–corrector sampling), a line-for-line port of diffusers v0.23.0's `ScoreSdeVePipeline`.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { findModelGaussian } from '../diagnostics/statistics-file.js';
import { DIFFUSERS_VERSION } from '../diffusers.js';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { GaussianStatistics } from '../math/gaussian.js';
import { UNet2DModel } from '../models/unet-2d/index.js';
import { ProgressBar, type ProgressStream } from '../progress.js';
import type { Generator } from '../random/index.js';
import { throwIfAborted } from '../samplers/common.js';
import {
  colorize,
  inpaint,
  runSampler,
  SAMPLER_DEFAULTS,
  SAMPLER_NAMES,
  type SamplerName,
  type SamplerOptions,
} from '../samplers/registry.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from '../samplers/types.js';
import { schedulerSamplerSettings } from '../samplers/ve-scheduler.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import type { Tensor } from '../tensor.js';
import { type ImageInput, imageBatch, keepMask } from './edit-inputs.js';
import { numpyToPil, type PipelineImage, toClampedNHWC } from './images.js';
import { type LoadPipelineOptions, resolvePipelineSource } from './load.js';

/** The code of the warning for a model folder without a scheduler config (the CLI words it for its flags). */
export const DEFAULT_SCHEDULER_WARNING = 'SCORESDE_DEFAULT_SCHEDULER';

export { DIFFUSERS_VERSION } from '../diffusers.js';

export type OutputType = 'pil' | 'np';
/** 'pil' → 8-bit RGB images; 'np' → a float32 (B, H, W, 3) tensor in [0, 1]. */
export type ImagesOf<O extends OutputType> = O extends 'np' ? Tensor<'float32'> : PipelineImage[];

/** Reported after every predictor–corrector step. */
export interface PipelineStep {
  /** 0-based step index. */
  step: number;
  totalSteps: number;
  /** σ of this step (the UNet's timestep input). */
  sigma: number;
  /** The new sample x (B, C, H, W), unclamped (diffusers' `prev_sample`). */
  sample: Tensor<'float32'>;
  /** Its noise-free mean (B, C, H, W), unclamped (diffusers' `prev_sample_mean`; `sample` where a sampler has none). */
  sampleMean: Tensor<'float32'>;
  /** UNet calls so far. */
  nfe: number;
}

export interface PipelineCallOptions<O extends OutputType = 'pil', R extends boolean = true> {
  /** Number of images (diffusers `batch_size`). Default 1. */
  batchSize?: number;
  /** Predictor steps (diffusers `num_inference_steps`); each also runs `correct_steps` corrector steps. Default 2000. */
  numInferenceSteps?: number;
  /** One Generator, or one per image (diffusers `generator`). Default: the global generator (`manualSeed`). */
  generator?: Generator | Generator[];
  /** diffusers `output_type`. Default 'pil'. */
  outputType?: O;
  /** diffusers `return_dict`: true → `{ images }`, false → `[images]`. Default true. */
  returnDict?: R;
  /** Called after every step with the unclamped sample and its mean. */
  onStep?: (info: PipelineStep) => void;
  /** Stops between UNet calls with an AbortError. */
  signal?: AbortSignal;
  /**
   * The sampler by name ('pc', 'ode', 'heun', 'dpmpp-2m'; see SAMPLER_NAMES). Default 'pc', which with its
   * default predictor and corrector is diffusers' own loop. `numInferenceSteps` defaults to the sampler's
   * default; σ range, snr and corrector steps come from the scheduler config.
   */
  sampler?: SamplerName;
  /** That sampler's own settings, e.g. `{ rho: 7 }` for 'heun' (see SamplerOptions). */
  samplerOptions?: Omit<SamplerOptions, 'shape'>;
}

/** inpaint / colorize: the call options except `sampler` (they use predictor–corrector sampling). */
export type EditCallOptions<O extends OutputType, R extends boolean> = Omit<
  PipelineCallOptions<O, R>,
  'sampler'
> & {
  /** Predictor–corrector settings beyond the scheduler config (e.g. `{ corrector: 'none' }`). */
  samplerOptions?: Omit<SamplerOptions, 'shape'>;
};

export interface InpaintCallOptions<O extends OutputType, R extends boolean> extends EditCallOptions<O, R> {
  /** The image to complete: RGB images or a float32 (B, 3, H, W) tensor in [0, 1], at the model's size. */
  image: ImageInput;
  /** What to repaint, as in diffusers: white (1) = generate, black (0) = keep. One mask or one per image. */
  mask: ImageInput;
}

export interface ColorizeCallOptions<O extends OutputType, R extends boolean> extends EditCallOptions<O, R> {
  /** The grayscale image(s): RGB images (their channel mean is used) or a (B, 1 | 3, H, W) tensor in [0, 1]. */
  image: ImageInput;
}

export type PipelineCallResult<O extends OutputType, R extends boolean> = R extends false
  ? [ImagesOf<O>]
  : { images: ImagesOf<O> };

/** diffusers' `set_progress_bar_config` options. */
export interface ProgressBarConfig {
  /** Hide the bar. */
  disable?: boolean;
  /** Label before the bar (tqdm `desc`). */
  desc?: string;
  /** Unit name (tqdm `unit`); default 'it' as in diffusers. */
  unit?: string;
  /** Default: process.stderr. */
  stream?: ProgressStream;
}

export interface ScoreSdeVeComponents {
  unet: UNet2DModel;
  scheduler: ScoreSdeVeScheduler;
  /** The training data's Gaussian, for the samplers' `gaussianAbove` and `gaussianNormAbove` (not in diffusers). */
  gaussian?: GaussianStatistics;
}

export class ScoreSdeVePipeline {
  readonly unet: UNet2DModel;
  readonly scheduler: ScoreSdeVeScheduler;
  /** The training data's Gaussian (gaussian.safetensors in the model folder), when the model has one. */
  readonly gaussian?: GaussianStatistics;
  private progressConfig: ProgressBarConfig = {};

  constructor({ unet, scheduler, gaussian }: ScoreSdeVeComponents) {
    if (!(unet instanceof UNet2DModel)) throw new TypeError('ScoreSdeVePipeline: unet must be a UNet2DModel');
    if (!(scheduler instanceof ScoreSdeVeScheduler)) {
      throw new TypeError('ScoreSdeVePipeline: scheduler must be a ScoreSdeVeScheduler');
    }
    checkPipelineUnet(unet.config, 'ScoreSdeVePipeline: the UNet config');
    this.unet = unet;
    this.scheduler = scheduler;
    this.gaussian = gaussian;
  }

  /**
   * Loads a pipeline from a local folder (diffusers pipeline layout or a root-level UNet repo)
   * or a Hub repo id, which is downloaded once into the huggingface_hub cache.
   */
  static async fromPretrained(
    idOrDir: string,
    options: LoadPipelineOptions = {},
  ): Promise<ScoreSdeVePipeline> {
    const source = await resolvePipelineSource(idOrDir, options);
    const warn = options.onWarning;
    const unet = await UNet2DModel.fromPretrained(source.dir, {
      subfolder: source.unetSubfolder,
      variant: options.variant,
      useSafetensors: options.useSafetensors,
      executionProviders: options.executionProviders,
      onWarning: warn && ((m) => warn(m)),
    });
    try {
      checkPipelineUnet(unet.config, join(source.dir, source.unetSubfolder ?? '', 'config.json'));
    } catch (e) {
      await unet.release();
      throw e;
    }
    let scheduler: ScoreSdeVeScheduler;
    if (source.hasSchedulerConfig) {
      scheduler = await ScoreSdeVeScheduler.fromPretrained(source.dir, {
        subfolder: source.schedulerSubfolder,
        onWarning: warn && ((m) => warn(m)),
      });
    } else {
      // Not silent: a model trained with another σ range (celebahq: sigma_max 380) would sample wrongly.
      const message = `${idOrDir}: no scheduler_config.json found; using ScoreSdeVeScheduler's defaults (sigma_max 1348, snr 0.15). Pass a scheduler with new ScoreSdeVePipeline({ unet, scheduler }) if the model needs others.`;
      if (warn) warn(message, DEFAULT_SCHEDULER_WARNING);
      else process.emitWarning(message, { code: DEFAULT_SCHEDULER_WARNING });
      scheduler = new ScoreSdeVeScheduler();
    }
    let gaussian: GaussianStatistics | undefined;
    try {
      gaussian = await findModelGaussian(source.dir);
    } catch (e) {
      await unet.release();
      throw e;
    }
    return new ScoreSdeVePipeline({ unet, scheduler, gaussian });
  }

  /** diffusers' `set_progress_bar_config`: e.g. `{ disable: true }`. Merges with earlier settings. */
  setProgressBarConfig(config: ProgressBarConfig): void {
    this.progressConfig = { ...this.progressConfig, ...config };
  }

  /** Height and width of generated images (the UNet's `sample_size`). */
  get sampleSize(): [number, number] {
    const s = this.unet.config.sample_size;
    if (s === null || s === undefined) {
      throw new ConfigError('the UNet config has no sample_size, so the image size is unknown');
    }
    return Array.isArray(s) ? [s[0], s[1]] : [s, s];
  }

  /** The UNet as a score function: one σ per batch row. */
  get scoreFn(): ScoreFn {
    return async (x, sigma) => (await this.unet.forward(x, sigma)).sample;
  }

  /**
   * Generates images: diffusers' `__call__` (the `pc` sampler's default, the same random draws in the same
   * order), or another sampler. Unlike diffusers, the pipeline's scheduler is not modified: the sampler
   * sets up its own from the scheduler config.
   */
  async call<O extends OutputType = 'pil', R extends boolean = true>(
    options: PipelineCallOptions<O, R> = {},
  ): Promise<PipelineCallResult<O, R>> {
    const sampler = options.sampler ?? 'pc';
    if (!SAMPLER_NAMES.includes(sampler)) {
      throw new RangeError(`unknown sampler ${JSON.stringify(sampler)}; known: ${SAMPLER_NAMES.join(', ')}`);
    }
    const batchSize = options.batchSize ?? 1;
    const [height, width] = this.sampleSize;
    // (B, C, H, W). diffusers 0.23 hard-codes C = 3; the model's in_channels also serves 1-channel models.
    const channels = this.unet.config.in_channels;
    const settings = { ...this.samplerSettings(options), shape: [batchSize, channels, height, width] };
    return this.runJob(options, batchSize, defaultSteps(sampler), (score, common) =>
      runSampler(sampler, score, settings, common),
    );
  }

  /**
   * Inpainting (score_sde's PC inpainter): keeps `image` where `mask` is black and generates the rest,
   * with the scheduler's predictor–corrector settings. Returns what `call` returns.
   */
  async inpaint<O extends OutputType = 'pil', R extends boolean = true>(
    options: InpaintCallOptions<O, R>,
  ): Promise<PipelineCallResult<O, R>> {
    const size = this.sampleSize;
    const image = imageBatch(options.image, 'image', options.batchSize, size, this.unet.config.in_channels);
    const mask = keepMask(options.mask, image.dims[0], size);
    const settings = { ...this.samplerSettings(options), image, mask };
    return this.runJob(options, image.dims[0], defaultSteps('pc'), (score, common) =>
      inpaint(score, settings, common),
    );
  }

  /**
   * Colorization (score_sde's PC colorizer): colour images whose channel mean is the given grayscale
   * image, with the scheduler's predictor–corrector settings. Returns what `call` returns.
   */
  async colorize<O extends OutputType = 'pil', R extends boolean = true>(
    options: ColorizeCallOptions<O, R>,
  ): Promise<PipelineCallResult<O, R>> {
    if (this.unet.config.in_channels !== 3)
      throw new RangeError(
        `colorize needs an RGB model; this one has ${this.unet.config.in_channels} channel(s)`,
      );
    const grayImage = imageBatch(options.image, 'image', options.batchSize, this.sampleSize);
    const settings = { ...this.samplerSettings(options), grayImage };
    return this.runJob(options, grayImage.dims[0], defaultSteps('pc'), (score, common) =>
      colorize(score, settings, common),
    );
  }

  /** The scheduler config as sampler settings, then the caller's steps and sampler options. */
  private samplerSettings(options: {
    numInferenceSteps?: number;
    samplerOptions?: Omit<SamplerOptions, 'shape'>;
  }): Omit<SamplerOptions, 'shape'> {
    return {
      ...schedulerSamplerSettings(this.scheduler.config),
      steps: options.numInferenceSteps,
      ...((options.samplerOptions?.gaussianAbove ?? options.samplerOptions?.gaussianNormAbove) !==
        undefined && this.gaussian
        ? { gaussian: this.gaussian }
        : {}),
      ...options.samplerOptions,
    };
  }

  /** Runs a sampler job with the pipeline's progress bar, step reports and output conversion. */
  private async runJob<O extends OutputType, R extends boolean>(
    options: Omit<PipelineCallOptions<O, R>, 'sampler'>,
    batchSize: number,
    stepsByDefault: number | undefined,
    job: (score: ScoreFn, common: SamplerCommon) => Promise<SamplerResult>,
  ): Promise<PipelineCallResult<O, R>> {
    const { numInferenceSteps, generator, onStep, signal } = options;
    const outputType = options.outputType ?? 'pil';
    const returnDict = options.returnDict ?? true;
    checkCallOptions(batchSize, numInferenceSteps ?? 1, generator, outputType);
    throwIfAborted(signal);
    const bar = new ProgressBar({ total: numInferenceSteps ?? stepsByDefault, ...this.progressConfig });
    try {
      const result = await job(this.scoreFn, {
        generator,
        signal,
        onStep: (s) => {
          // Adaptive samplers refine their estimate of the total as they go.
          bar.total = s.totalSteps;
          bar.update();
          const { step, totalSteps, sigma, sample, nfe } = s;
          onStep?.({ step, totalSteps, sigma, sample, sampleMean: s.sampleMean ?? sample, nfe });
        },
      });
      return packImages(result.sample, outputType as O, returnDict as R);
    } finally {
      bar.close();
    }
  }

  /**
   * Writes the folder diffusers writes (model_index.json, unet/, scheduler/), loadable by Python
   * diffusers' `ScoreSdeVePipeline.from_pretrained` and by `fromPretrained` here.
   */
  async savePretrained(dir: string): Promise<void> {
    if (typeof dir !== 'string' || dir === '')
      throw new TypeError('savePretrained: dir must be a non-empty path');
    await mkdir(dir, { recursive: true });
    await this.unet.savePretrained(join(dir, 'unet'));
    await this.scheduler.saveConfig(join(dir, 'scheduler'));
    const modelIndex = {
      _class_name: 'ScoreSdeVePipeline',
      _diffusers_version: DIFFUSERS_VERSION,
      scheduler: ['diffusers', 'ScoreSdeVeScheduler'],
      unet: ['diffusers', 'UNet2DModel'],
    };
    // diffusers' to_json_string: indent 2, sorted keys, trailing newline.
    await writeFileAtomic(join(dir, 'model_index.json'), `${JSON.stringify(modelIndex, null, 2)}\n`);
  }

  /** Frees the UNet's native session. */
  async release(): Promise<void> {
    await this.unet.release();
  }
}

/** A sampler's default step count (undefined for the adaptive ODE sampler). */
function defaultSteps(name: SamplerName): number | undefined {
  const defaults = SAMPLER_DEFAULTS[name];
  return 'steps' in defaults ? defaults.steps : undefined;
}

/** What ScoreSdeVePipeline needs of its UNet: an image size, and no class conditioning (it passes no labels). */
function checkPipelineUnet(config: UNet2DModel['config'], where: string): void {
  if (config.sample_size === null) {
    throw new ConfigError(`${where}: sample_size is missing or null, so the image size is unknown`);
  }
  if (config.class_embed_type !== null || config.num_class_embeds !== null) {
    const what =
      config.class_embed_type !== null
        ? `class_embed_type ${JSON.stringify(config.class_embed_type)}`
        : `num_class_embeds ${config.num_class_embeds}`;
    throw new ConfigError(
      `${where}: ${what} makes a class-conditional UNet, but ScoreSdeVePipeline is unconditional (it passes no class labels)`,
    );
  }
}

function checkCallOptions(
  batchSize: number,
  steps: number,
  generator: Generator | Generator[] | undefined,
  outputType: string,
): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`numInferenceSteps must be a positive integer, got ${steps}`);
  }
  if (Array.isArray(generator) && generator.length !== batchSize) {
    throw new RangeError(
      `generator: a list of ${generator.length} generators was given for batchSize ${batchSize}; pass one per image`,
    );
  }
  if (outputType !== 'pil' && outputType !== 'np') {
    throw new TypeError(`outputType must be 'pil' or 'np', got ${JSON.stringify(outputType)}`);
  }
}

/** diffusers' tail: clamp(0, 1), to NHWC, optionally numpy_to_pil, then the dict / tuple choice. */
export function packImages<O extends OutputType, R extends boolean>(
  sampleMean: Tensor<'float32'>,
  outputType: O,
  returnDict: R,
): PipelineCallResult<O, R> {
  const np = toClampedNHWC(sampleMean);
  const images = (outputType === 'pil' ? numpyToPil(np) : np) as ImagesOf<O>;
  return (returnDict ? { images } : [images]) as PipelineCallResult<O, R>;
}
