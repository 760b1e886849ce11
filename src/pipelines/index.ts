// Public exports of src/pipelines.
export {
  DIFFUSERS_VERSION,
  type ColorizeCallOptions,
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
export {
  PipelineImage,
  gridShape,
  imagesToTensor,
  loadImage,
  makeImageGrid,
  numpyToPil,
  toClampedNHWC,
  toRGBImage,
} from './images.js';
export { type ImageInput, imageBatch, keepMask } from './edit-inputs.js';
export { ProgressBar, type ProgressBarOptions, type ProgressStream, formatProgress } from '../progress.js';
export { type ModelLayout, resolveModelLayout } from './layout.js';
export type { LoadPipelineOptions } from './load.js';
