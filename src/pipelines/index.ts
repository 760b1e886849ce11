// Public exports of src/pipelines.

export { formatProgress, ProgressBar, type ProgressBarOptions, type ProgressStream } from '../progress.js';
export { type ImageInput, imageBatch, keepMask } from './edit-inputs.js';
export {
  gridShape,
  imagesToTensor,
  loadImage,
  makeImageGrid,
  numpyToPil,
  PipelineImage,
  toClampedNHWC,
  toGrayImage,
  toRGBImage,
} from './images.js';
export { type ModelLayout, resolveModelLayout } from './layout.js';
export type { LoadPipelineOptions } from './load.js';
export {
  type ColorizeCallOptions,
  DEFAULT_SCHEDULER_WARNING,
  DIFFUSERS_VERSION,
  type EditCallOptions,
  type ImagesOf,
  type InpaintCallOptions,
  type OutputType,
  type PipelineCallOptions,
  type PipelineCallResult,
  type PipelineStep,
  type ProgressBarConfig,
  type ScoreSdeVeComponents,
  ScoreSdeVePipeline,
} from './score-sde-ve.js';
