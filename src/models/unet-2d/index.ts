// Public exports of src/models/unet-2d

export { type BuildOptions, buildUnetGraph, dropoutInputName } from './build.js';
export { configToJson, resolveUnetConfig, UNET2D_DEFAULTS, type UNet2DConfig } from './config.js';
export { type ClassLabels, conditioningFeeds } from './feeds.js';
export type { ParamSource } from './layers.js';
export {
  type ForwardOptions,
  type FromPretrainedOptions,
  type TimestepInput,
  UNet2DModel,
  type UNet2DModelOptions,
  type UNet2DOutput,
} from './model.js';
export { randomStateDict } from './random-init.js';
export { unetParamSpec } from './weights.js';
