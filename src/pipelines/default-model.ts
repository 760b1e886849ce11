/**
 * The model scoresde ships and uses when a command names none: a 1×28×28 Fashion-MNIST score model trained by
 * `scoresde train` itself (scripts/train-default-model.sh), stored as a diffusers pipeline folder in the
 * package, so `npx scoresde sample` works offline. Its model card is models/fashion-mnist/README.md.
 */
import { fileURLToPath } from 'node:url';
import type { SamplerName } from '../samplers/index.js';

export const DEFAULT_MODEL = Object.freeze({
  /** The pipeline folder inside the package (src/pipelines and dist/pipelines both sit two levels below it). */
  dir: fileURLToPath(new URL('../../models/fashion-mnist', import.meta.url)),
  /**
   * The fastest sampler and step count that reach its best quality (BENCHMARKS.md, Fashion-MNIST table): at
   * its current training the deterministic samplers leave a third of the images as noise, pc does not.
   */
  sampler: 'pc' as SamplerName,
  steps: 100,
  /** Images `scoresde sample` makes by default, in one batch, with a grid. */
  count: 16,
});
