/**
 * How the bundled Fashion-MNIST model (models/fashion-mnist) samples when nothing else is asked for: the fastest
 * setting that reaches its best quality in the sampler table (BENCHMARKS.md, "Fashion-MNIST: Fréchet distance
 * against network calls"). No Node imports, so the browser demo starts from the same choice as the CLI.
 */
import type { SamplerName, SamplerOptions } from '../samplers/registry.js';

export const DEFAULT_SAMPLING: Readonly<{
  sampler: SamplerName;
  steps: number;
  /**
   * Sampler options on this model, for whichever sampler runs as far as it takes them (churn: heun only; the
   * Gaussian options: every sampler); each also a CLI flag, which overrides it ('off' turns a Gaussian one off).
   */
  options: Readonly<Omit<SamplerOptions, 'shape'>>;
  /** Images `scoresde sample` makes by default, in one batch, with a grid. */
  count: number;
  /** Samplers the model card advises against on this model, and why (the CLI's list and the demo mark them). */
  notAdvised: Readonly<Partial<Record<SamplerName, string>>>;
}> = Object.freeze({
  // EDM's stochastic Heun, 14 steps, churn 40, with the training data's Gaussian above σ = 10 and the noise-norm
  // correction from there down to σ = 1: 19 network calls. It is the cheapest setting within sampling noise of
  // the best FD measured on 1000 images (1.42× the floor; the best, 18 steps with the same options, is 1.33× at 25
  // calls; 10 steps without the Gaussian is 1.84×). It is ahead of the deterministic samplers (2.0–2.2×; model
  // card). The correction is on for every sampler on this model: its UNet cannot see the size of the noise draw,
  // and without the correction the deterministic samplers leave noise images. Above σ = 10 the network knows
  // nothing the Gaussian does not (model card), so those steps cost no network call.
  sampler: 'heun',
  steps: 14,
  options: Object.freeze({ churn: 40, gaussianNormAbove: 1, gaussianAbove: 10 }),
  count: 16,
  notAdvised: Object.freeze({}),
});
