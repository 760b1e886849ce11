/**
 * The contract between samplers, the pipeline and the CLI.
 * A sampler is a short pure function: (score, shape, sigma schedule, options) → sample,
 * with randomness (Generator) and progress (onStep) passed in, as in k-diffusion's sampling.py.
 */
import type { Generator } from '../random/generator.js';
import type { Tensor } from '../tensor.js';

/**
 * The score network as a function: ∇x log p_σ(x) for a batch x (B, C, H, W) and one σ per batch row.
 * The UNet of a VE model (fourier embedding) is exactly this: unet(x, σ).sample.
 */
export type ScoreFn = (x: Tensor<'float32'>, sigma: Float32Array) => Promise<Tensor<'float32'>>;

/** Reported after every sampler step (network calls so far included). */
export interface SamplerStep {
  /** 0-based step index. */
  step: number;
  totalSteps: number;
  /** The noise level of this step. */
  sigma: number;
  /** The current sample x (B, C, H, W), unclamped. */
  sample: Tensor<'float32'>;
  /** The noise-free estimate of this step where the sampler has one (e.g. predictor mean), unclamped. */
  sampleMean?: Tensor<'float32'>;
  /**
   * The denoiser's estimate of the clean image from this step's first network call, D(x, σ) = x + σ²·score
   * (Tweedie's formula), unclamped: what a live preview shows. Every sampler reports it; at large σ it is a
   * blurred guess that sharpens as σ falls, where `sample` is still mostly noise.
   */
  denoised?: Tensor<'float32'>;
  /** Network (score) evaluations so far. */
  nfe: number;
}

/** What every sampler accepts besides its own settings. */
export interface SamplerCommon {
  /** One Generator, or one per batch row (diffusers' list-of-generators semantics). */
  generator?: Generator | Generator[];
  onStep?: (info: SamplerStep) => void;
  /** Checked between network calls; aborting throws an AbortError. */
  signal?: AbortSignal;
}

export interface SamplerResult {
  /** The final sample (the sampler's noise-free estimate, unclamped), (B, C, H, W). */
  sample: Tensor<'float32'>;
  /** Number of score-network evaluations used. */
  nfe: number;
}
