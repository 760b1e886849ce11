// Public exports of src/pipelines.
export {
  DIFFUSERS_VERSION,
  type ImagesOf,
  type OutputType,
  type PipelineCallOptions,
  type PipelineCallResult,
  type PipelineStep,
  type ProgressBarConfig,
  type ScoreSdeVeComponents,
  ScoreSdeVePipeline,
} from './score-sde-ve.js';
export { PipelineImage, gridShape, makeImageGrid, numpyToPil, toClampedNHWC } from './images.js';
export { type ModelLayout, resolveModelLayout } from './layout.js';
export type { LoadPipelineOptions } from './load.js';
