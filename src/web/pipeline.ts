/**
 * ScoreSdeVePipeline for the browser: generation and inpainting with the library's samplers
 * (samplers/registry), torch-exact Generator and ScoreSdeVeScheduler config, on a WebUNet2DModel.
 * Same numbers as the Node pipeline's `call({ sampler })` / `inpaint()` for the same seed, up to the
 * rounding of onnxruntime's wasm kernels.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { ConfigError } from '../errors.js';
import type { GaussianStatistics } from '../math/gaussian.js';
import type { WebExecutionProvider } from '../onnx/session-web.js';
import { imageBatch, keepMask } from '../pipelines/edit-inputs.js';
import { numpyToPil, type PipelineImage, toClampedNHWC } from '../pipelines/images.js';
import { Generator } from '../random/index.js';
import {
  inpaint,
  runSampler,
  SAMPLER_NAMES,
  type SamplerName,
  type SamplerOptions,
} from '../samplers/registry.js';
import type { SamplerCommon, SamplerResult, SamplerStep, ScoreFn } from '../samplers/types.js';
import { schedulerSamplerSettings } from '../samplers/ve-scheduler.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import { Tensor } from '../tensor.js';
import type { FetchProgress } from './fetch-file.js';
import { type LoadModelFilesOptions, loadModelFiles, loadModelGaussian, type ModelSource } from './load.js';
import { WebUNet2DModel } from './unet.js';

export interface WebPipelineLoadOptions extends LoadModelFilesOptions {
  /** The onnxruntime-web module, configured by the page (env.wasm.wasmPaths, numThreads). */
  ort: typeof OrtWeb;
  /** Default ['wasm']. */
  executionProviders?: readonly WebExecutionProvider[];
  onWarning?: (message: string) => void;
}

export interface WebGenerateOptions {
  /** 'pc' (diffusers' predictor–corrector loop), 'ode', 'heun' or 'dpmpp-2m'. Default 'pc'. */
  sampler?: SamplerName;
  /** Sampler steps (diffusers `num_inference_steps`); default the sampler's default. Not for 'ode'. */
  steps?: number;
  /** Seeds one torch-exact Generator (torch.manual_seed). Default 0. */
  seed?: number;
  batchSize?: number;
  /** The sampler's own options (e.g. `{ churn: 40 }` for heun, `{ rtol: 1e-3 }` for ode), as the Node pipeline takes them. */
  samplerOptions?: Omit<SamplerOptions, 'shape' | 'steps'>;
  onStep?: (step: SamplerStep) => void;
  signal?: AbortSignal;
}

export interface WebInpaintOptions extends Omit<WebGenerateOptions, 'sampler' | 'samplerOptions'> {
  /** The image (B or 1, 3, H, W) in [0, 1] at the model's size (a gray model uses its channel mean). */
  image: Tensor<'float32'>;
  /** What to repaint, as in diffusers: 1 (white) = generate, 0 (black) = keep; (1 or B, 1 or 3, H, W). */
  mask: Tensor<'float32'>;
}

export interface WebPipelineOutput {
  /** The final sample (B, 3, H, W), unclamped. */
  sample: Tensor<'float32'>;
  /** diffusers `output_type="np"`: clamped to [0, 1], (B, H, W, 3). */
  np: Tensor<'float32'>;
  /** diffusers `output_type="pil"`: 8-bit RGB images. */
  images: PipelineImage[];
  /** UNet calls. */
  nfe: number;
}

export type { FetchProgress, ModelSource };

export class WebScoreSdeVePipeline {
  /** The training data's Gaussian, fetched from the model folder the first time a sampler option needs it. */
  private gaussian?: Promise<GaussianStatistics>;

  constructor(
    readonly unet: WebUNet2DModel,
    readonly scheduler: ScoreSdeVeScheduler,
    /** Where the model came from, for `gaussian.safetensors` (absent: the Gaussian options are refused). */
    private readonly folder?: { source: ModelSource; options: LoadModelFilesOptions },
  ) {}

  /** Loads a model from a folder URL or a Hub repo id (see ModelSource), through the browser cache. */
  static async fromPretrained(
    source: ModelSource,
    options: WebPipelineLoadOptions,
  ): Promise<WebScoreSdeVePipeline> {
    const { ort, executionProviders, onWarning, ...fetchOptions } = options;
    const files = await loadModelFiles(source, fetchOptions);
    const warn = onWarning ?? ((m: string) => console.warn(m));
    const unet = WebUNet2DModel.fromConfig(files.config, files.stateDict, {
      ort,
      executionProviders,
      onWarning: warn,
      configFile: files.configUrl,
      weightsFile: files.weightsUrl,
    });
    const scheduler = files.schedulerConfig
      ? ScoreSdeVeScheduler.fromConfig(files.schedulerConfig, { file: files.schedulerUrl, onWarning: warn })
      : new ScoreSdeVeScheduler();
    return new WebScoreSdeVePipeline(unet, scheduler, { source: files.folder, options: fetchOptions });
  }

  /** Height and width of generated images (the UNet's sample_size). */
  get sampleSize(): [number, number] {
    const s = this.unet.config.sample_size;
    if (s === null) throw new ConfigError('the UNet config has no sample_size, so the image size is unknown');
    return typeof s === 'number' ? [s, s] : [s[0], s[1]];
  }

  /**
   * The UNet as a score function: one σ per batch row. Each call first yields to the event loop: a wasm
   * run settles in microtasks, so without it a worker would never see the message that aborts the run.
   */
  get scoreFn(): ScoreFn {
    return async (x, sigma) => {
      await yieldToEventLoop();
      return (await this.unet.forward(x, sigma)).sample;
    };
  }

  /** Generates images; the Node pipeline's `call({ sampler, numInferenceSteps, generator })`. */
  async generate(options: WebGenerateOptions = {}): Promise<WebPipelineOutput> {
    const sampler = options.sampler ?? 'pc';
    if (!SAMPLER_NAMES.includes(sampler))
      throw new RangeError(`unknown sampler ${JSON.stringify(sampler)}; known: ${SAMPLER_NAMES.join(', ')}`);
    const batch = options.batchSize ?? 1;
    if (!Number.isInteger(batch) || batch < 1)
      throw new RangeError(`batchSize must be a positive integer, got ${batch}`);
    const [h, w] = this.sampleSize;
    // diffusers hard-codes 3 channels; the model's own count is the same for RGB and also serves gray models.
    const c = this.unet.config.in_channels;
    const settings = {
      ...this.samplerSettings(options.steps),
      ...(await this.gaussianFor(options.samplerOptions)),
      ...options.samplerOptions,
      shape: [batch, c, h, w],
    };
    return finish(await runSampler(sampler, this.scoreFn, settings, this.common(options)));
  }

  /** PC inpainting: keeps `image` where `mask` is 0 and generates the rest; the Node pipeline's `inpaint()`. */
  async inpaint(options: WebInpaintOptions): Promise<WebPipelineOutput> {
    const size = this.sampleSize;
    let image = imageBatch(options.image, 'image', options.batchSize, size);
    if (this.unet.config.in_channels === 1 && image.dims[1] === 3) image = channelMean(image);
    const mask = keepMask(options.mask, image.dims[0], size);
    const settings = { ...this.samplerSettings(options.steps), image, mask };
    return finish(await inpaint(this.scoreFn, settings, this.common(options)));
  }

  /** The scheduler config as sampler settings (as the Node pipeline passes them), then the steps. */
  private samplerSettings(steps: number | undefined): Omit<SamplerOptions, 'shape'> {
    return { ...schedulerSamplerSettings(this.scheduler.config), steps };
  }

  /** `{ gaussian }` from the model folder when the options use it and do not bring their own, else `{}`. */
  private async gaussianFor(
    o: WebGenerateOptions['samplerOptions'],
  ): Promise<{ gaussian?: GaussianStatistics }> {
    if (!o || (o.gaussianAbove === undefined && o.gaussianNormAbove === undefined) || o.gaussian) return {};
    if (!this.folder) return {}; // the sampler then refuses the option, naming it
    this.gaussian ??= loadModelGaussian(this.folder.source, this.folder.options);
    try {
      return { gaussian: await this.gaussian };
    } catch (e) {
      this.gaussian = undefined; // a later call may try again (e.g. after a network error)
      throw e;
    }
  }

  private common(options: WebGenerateOptions): SamplerCommon {
    return {
      generator: new Generator().manualSeed(options.seed ?? 0),
      onStep: options.onStep,
      signal: options.signal,
    };
  }

  /** Frees the onnxruntime-web session. */
  async release(): Promise<void> {
    await this.unet.release();
  }
}

/** Resolves after pending tasks (messages, timers) have run: a macrotask turn, not a microtask. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    (port1 as unknown as { onmessage: () => void }).onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

function finish(result: SamplerResult): WebPipelineOutput {
  const np = toClampedNHWC(result.sample);
  return { sample: result.sample, np, images: toImages(np), nfe: result.nfe };
}

/** 8-bit RGB images of a clamped (B, H, W, 3 | 1) array (diffusers' numpy_to_pil; gray repeated to RGB). */
export function toImages(np: Tensor<'float32'>): PipelineImage[] {
  const [b, h, w, c] = np.dims;
  if (c !== 1) return numpyToPil(np);
  const rgb = new Float32Array(b * h * w * 3);
  for (let i = 0; i < np.data.length; i++) rgb.fill(np.data[i], i * 3, i * 3 + 3);
  return numpyToPil(new Tensor('float32', rgb, [b, h, w, 3]));
}

/** (B, 3, H, W) → (B, 1, H, W): the channel mean, for a gray model given an RGB image. */
function channelMean(t: Tensor<'float32'>): Tensor<'float32'> {
  const [b, c, h, w] = t.dims;
  const plane = h * w;
  const out = new Float32Array(b * plane);
  for (let n = 0; n < b; n++)
    for (let p = 0; p < plane; p++) {
      let sum = 0;
      for (let ch = 0; ch < c; ch++) sum += t.data[(n * c + ch) * plane + p];
      out[n * plane + p] = Math.fround(sum / c);
    }
  return new Tensor('float32', out, [b, 1, h, w]);
}
