/**
 * The model scoresde ships and uses when a command names none: a 1×28×28 Fashion-MNIST score model trained by
 * `scoresde train` itself (scripts/train-default-model.sh), stored as a diffusers pipeline folder in the
 * package, so `npx scoresde sample` works offline. Its model card is models/fashion-mnist/README.md; how it
 * samples by default is DEFAULT_SAMPLING (default-sampling.ts).
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_SAMPLING } from './default-sampling.js';

export const DEFAULT_MODEL = Object.freeze({
  /** The pipeline folder inside the package (src/pipelines and dist/pipelines both sit two levels below it). */
  dir: fileURLToPath(new URL('../../models/fashion-mnist', import.meta.url)),
  ...DEFAULT_SAMPLING,
});
