// Public exports of src/random: torch's CPU random stream, bit for bit.
export {
  DEFAULT_SEED,
  defaultRandnPath,
  Generator,
  type GeneratorOptions,
  type GeneratorState,
  type RandnPath,
} from './generator.js';
export { MT_STATE_WORDS, MT19937 } from './mt19937.js';
export {
  defaultGenerator,
  manualSeed,
  type RandnOptions,
  type RandnTensorOptions,
  type RandOptions,
  rand,
  randn,
  randnTensor,
} from './sampling.js';
