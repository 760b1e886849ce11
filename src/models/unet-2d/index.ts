// Public exports of src/models/unet-2d

export { configToJson, resolveUnetConfig, UNET2D_DEFAULTS, type UNet2DConfig } from './config.js';
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
