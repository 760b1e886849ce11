/**
 * scoresde/web: the browser build. Score-SDE sampling and inpainting on onnxruntime-web (wasm SIMD,
 * threads when cross-origin isolated, WebGPU where an adapter exists), with weights fetched over HTTP
 * (a folder URL or a Hub repo id) and kept in Cache Storage. Pass the onnxruntime-web module you load:
 *
 *   import * as ort from 'onnxruntime-web/wasm'; // or 'onnxruntime-web' (wasm + WebGPU, twice the size)
 *   const pipe = await WebScoreSdeVePipeline.fromPretrained({ url: '/models/tiny-ncsnpp/' }, { ort });
 *   const { images } = await pipe.generate({ sampler: 'pc', steps: 50, seed: 0 });
 */
export { ConfigError, FileFormatError } from '../errors.js';
export type { GraphRunner, GraphRunnerFactory } from '../onnx/runner.js';
export {
  type WebExecutionProvider,
  WebOnnxSession,
  type WebOnnxSessionOptions,
  webGpuAvailable,
} from '../onnx/session-web.js';
export { PipelineImage } from '../pipelines/images.js';
export { Generator, randnTensor } from '../random/index.js';
export {
  colorize,
  inpaint,
  runSampler,
  SAMPLER_DEFAULTS,
  SAMPLER_DESCRIPTIONS,
  SAMPLER_NAMES,
  type SamplerName,
  type SamplerOptions,
} from '../samplers/registry.js';
export type { SamplerStep, ScoreFn } from '../samplers/types.js';
export { ScoreSdeVeScheduler } from '../schedulers/index.js';
export { Tensor } from '../tensor.js';
export {
  clearModelCache,
  DEFAULT_CACHE_NAME,
  type FetchFileOptions,
  type FetchProgress,
  fetchModelFile,
  isCached,
  ModelFetchError,
} from './fetch-file.js';
export {
  type LoadModelFilesOptions,
  loadModelFiles,
  type ModelFiles,
  type ModelSource,
  modelFileUrl,
} from './load.js';
export {
  type WebGenerateOptions,
  type WebInpaintOptions,
  type WebPipelineLoadOptions,
  type WebPipelineOutput,
  WebScoreSdeVePipeline,
} from './pipeline.js';
export { WebUNet2DModel, type WebUNet2DModelOptions } from './unet.js';
