// Public exports of src/training: score_sde's DSM objective and gradients, and the training loop (optimiser
// schedule, EMA, checkpoints, presets).

export { clipGradNorm, normTwo } from './clip-grad.js';
export {
  type DsmBatch,
  type DsmGraphOptions,
  type DsmOptions,
  type DsmResult,
  DsmStepGraph,
  dsmLossAndGradients,
  vesdeSigma,
} from './dsm.js';
export { ExponentialMovingAverage } from './ema.js';
export { DEFAULT_SIGMA_MAX, DEFAULT_SIGMA_MIN, drawNoise, type NoiseDraw, TRAINING_EPS } from './noise.js';
export {
  learningRate,
  OPTIMIZATION_DEFAULTS,
  type OptimizationOptions,
  ScoreSdeOptimizer,
  type UpdateResult,
} from './optimization.js';
export { TRAIN_DEFAULTS, type TrainOptions, type TrainStep } from './options.js';
export { PRESET_NAMES, TRAINING_PRESETS, type TrainingPreset } from './presets.js';
export { type TrainResult, train } from './train.js';
export { loadTrainingState, type TrainingState, type TrainingStateInfo } from './training-state.js';
