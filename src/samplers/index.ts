// Public exports of src/samplers.

export {
  type AnalyticScoreFn,
  classifyComponents,
  type GaussianMixture,
  type GaussianMixtureSpec,
  gaussianMixture,
  gaussianMixtureScore,
  gaussianScore,
  sampleExact,
} from './analytic.js';
export { IMAGE_MIXTURE_DIMS, imageMixtureSpec, MIXTURE_2D } from './analytic-examples.js';
export { colorizePc, inpaintPc } from './conditional.js';
export { type DpmSolverOptions, sampleDpmSolver2M } from './dpmpp-2m.js';
export { type HeunOptions, sampleHeun } from './heun.js';
export {
  PC_CORRECTORS,
  PC_PREDICTORS,
  type PcCorrector,
  type PcOptions,
  type PcPredictor,
  samplePc,
} from './pc.js';
export {
  decodeProbabilityFlow,
  type EncodeResult,
  encodeProbabilityFlow,
  type ProbabilityFlowOptions,
  type ProbabilityFlowSampleOptions,
  sampleProbabilityFlow,
} from './probability-flow.js';
export {
  COMMON_DEFAULTS,
  type ColorizeOptions,
  type ConditionalOptions,
  colorize,
  type InpaintOptions,
  inpaint,
  networkCalls,
  networkCallsWith,
  runSampler,
  SAMPLER_DEFAULTS,
  SAMPLER_DESCRIPTIONS,
  SAMPLER_NAMES,
  SAMPLER_OPTION_TABLE,
  SAMPLERS,
  type SamplerInfo,
  type SamplerName,
  type SamplerOptionFlag,
  type SamplerOptionInfo,
  type SamplerOptionName,
  type SamplerOptions,
  samplerOptionNames,
} from './registry.js';
export { geometricSigmas, karrasSigmas } from './schedules.js';
export { type SlicedWassersteinOptions, slicedWasserstein } from './sliced-wasserstein.js';
export { type MixtureSlices, mixtureSlices, slicedWassersteinToMixture } from './sliced-wasserstein-exact.js';
export * from './types.js';
