/**
 * How the bundled Fashion-MNIST model (models/fashion-mnist) samples when nothing else is asked for: the fastest
 * setting that reaches its best quality in the sampler table (BENCHMARKS.md, "Fashion-MNIST: Fréchet distance
 * against network calls"). No Node imports, so the browser demo starts from the same choice as the CLI.
 */
import type { SamplerName, SamplerOptions } from '../samplers/registry.js';

export const DEFAULT_SAMPLING: Readonly<{
  sampler: SamplerName;
  steps: number;
  /** Sampler options beyond the step count (each also a CLI flag). */
  options: Readonly<Omit<SamplerOptions, 'shape'>>;
  /** Images `scoresde sample` makes by default, in one batch, with a grid. */
  count: number;
}> = Object.freeze({
  // At its current training the deterministic samplers leave a third of the images as noise; pc does not.
  sampler: 'pc',
  steps: 100,
  options: Object.freeze({}),
  count: 16,
});
