// Public exports of src/random: torch's CPU random stream, bit for bit.
export {
  DEFAULT_SEED,
  Generator,
  type GeneratorOptions,
  type GeneratorState,
  type RandnPath,
  defaultRandnPath,
} from './generator.js';
export { MT19937, MT_STATE_WORDS } from './mt19937.js';
export {
  defaultGenerator,
  manualSeed,
  rand,
  randn,
  randnTensor,
  type RandOptions,
  type RandnOptions,
  type RandnTensorOptions,
} from './sampling.js';
