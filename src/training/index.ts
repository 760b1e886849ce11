// Public exports of src/training: score_sde's DSM objective and gradients, the input VJP for likelihoods.
export {
  DEFAULT_SIGMA_MAX,
  DEFAULT_SIGMA_MIN,
  type DsmBatch,
  type DsmGraphOptions,
  type DsmOptions,
  type DsmResult,
  DsmStepGraph,
  dsmLossAndGradients,
  vesdeSigma,
} from './dsm.js';
export { InputParams } from './params.js';
export { ScoreVjpGraph, type ScoreVjpOptions, type ScoreVjpResult } from './vjp.js';
