/** Shared by the evaluation tests: a tiny classifier config, fast to build and run with random weights. */
import { type ClassifierConfig, DEFAULT_CLASSIFIER_CONFIG } from '../../src/evaluation/classifier/config.js';

/** The default classifier's layout at a fraction of its width (features of 16 values). */
export const TINY_CLASSIFIER: ClassifierConfig = Object.freeze({
  ...DEFAULT_CLASSIFIER_CONFIG,
  conv_channels: [4, 8],
  conv_strides: [2, 2],
  feature_dim: 16,
});
