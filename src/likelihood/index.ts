// Public exports of src/likelihood: bits/dim and latent interpolation through the probability-flow ODE.

export { mixtureLogDensity, mixtureScoreTrace, mixtureScoreVjp } from './analytic.js';
export { type DensityBaseline, fullGaussian, pixelHistogram } from './baselines.js';
export { drawHutchinsonNoise } from './divergence.js';
export {
  type DatasetLikelihood,
  type DatasetLikelihoodOptions,
  datasetLikelihood,
  type LikelihoodBatch,
  likelihoodFromBatches,
  meanAndStandardError,
} from './evaluate.js';
export { gaussianFlowMap, gaussianScoreVjp } from './gaussian-switch.js';
export { type InterpolateResult, interpolateImages, slerp } from './interpolate.js';
export {
  bitsPerDimOf,
  computeLikelihood,
  dequantize,
  type LikelihoodOptions,
  type LikelihoodResult,
  type LikelihoodStep,
  type PipelineLikelihoodOptions,
  vePriorLogp,
} from './likelihood.js';
export * from './types.js';
export { type UnetScoreVjp, type UnetScoreVjpOptions, unetScoreVjp } from './unet.js';
