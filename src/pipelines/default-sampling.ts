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
  /** Samplers the model card advises against on this model, and why (the CLI's list and the demo mark them). */
  notAdvised: Readonly<Partial<Record<SamplerName, string>>>;
}> = Object.freeze({
  // EDM's stochastic Heun: the best FD measured (1000 images: 69 calls ahead of 35, both ahead of pc at 200
  // calls), where the deterministic samplers (churn 0, ode, dpmpp-2m) leave about a third of the images as noise.
  sampler: 'heun',
  steps: 35,
  options: Object.freeze({ churn: 40 }),
  count: 16,
  notAdvised: Object.freeze({
    ode: 'about a third of its images come out as noise (deterministic; model card)',
    'dpmpp-2m': 'about a third of its images come out as noise (deterministic; model card)',
  }),
});
