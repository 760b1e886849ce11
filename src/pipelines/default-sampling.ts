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
  // EDM's stochastic Heun, 14 steps (27 calls), churn 40, with the noise-norm correction above σ = 1: the
  // cheapest setting within sampling noise of the best FD measured on 1000 images (1.44× the floor, against
  // 1.34× at 18 steps / 35 calls and 1.84× at 10 steps), ahead of the deterministic samplers (2.0–2.2×; model
  // card). The correction is on for every sampler on this model: its UNet cannot see the size of the noise
  // draw, and without the correction the deterministic samplers leave noise images.
  sampler: 'heun',
  steps: 14,
  options: Object.freeze({ churn: 40, gaussianNormAbove: 1 }),
  count: 16,
  notAdvised: Object.freeze({}),
});
