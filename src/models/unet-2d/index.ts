// Public exports of src/models/unet-2d
export {
  UNet2DModel,
  type ForwardOptions,
  type FromPretrainedOptions,
  type TimestepInput,
  type UNet2DModelOptions,
  type UNet2DOutput,
} from './model.js';
export { configToJson, resolveUnetConfig, UNET2D_DEFAULTS, type UNet2DConfig } from './config.js';
export { randomStateDict } from './random-init.js';
export { unetParamSpec } from './weights.js';
