/**
 * UNet2DModel in the browser: the same graph, feeds and weights check as the Node `UNet2DModel`
 * (shared `UNet2DCore`), run by onnxruntime-web.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { ConfigError } from '../errors.js';
import { resolveUnetConfig } from '../models/unet-2d/config.js';
import { prepareUnetParams, UNet2DCore, type UNet2DCoreOptions } from '../models/unet-2d/core.js';
import { type WebExecutionProvider, WebOnnxSession } from '../onnx/session-web.js';
import type { Tensor } from '../tensor.js';

export interface WebUNet2DModelOptions extends UNet2DCoreOptions {
  /** The onnxruntime-web module (`import * as ort from 'onnxruntime-web'`), configured by the page. */
  ort: typeof OrtWeb;
  /** Default ['wasm']. */
  executionProviders?: readonly WebExecutionProvider[];
  /** Receives config warnings (unknown keys); default console.warn. */
  onWarning?: (message: string) => void;
  /** Names the config source in errors and warnings (e.g. its URL). */
  configFile?: string;
  /** Names the weights source in errors (e.g. its URL). */
  weightsFile?: string;
}

export class WebUNet2DModel extends UNet2DCore {
  /** diffusers `UNet2DModel.from_config` + `load_state_dict`: a config (as config.json) and a state dict. */
  static fromConfig(
    config: Record<string, unknown>,
    stateDict: Map<string, Tensor>,
    options: WebUNet2DModelOptions,
  ): WebUNet2DModel {
    const onWarning = options.onWarning ?? ((m: string) => console.warn(m));
    const cfg = resolveUnetConfig(config, { file: options.configFile, onWarning });
    let params: ReturnType<typeof prepareUnetParams>;
    try {
      params = prepareUnetParams(cfg, stateDict, options.weightsFile);
    } catch (e) {
      // The config passed its own checks; what the architecture builder refuses is still the config's fault.
      if (e instanceof ConfigError && options.configFile)
        throw new ConfigError(`${options.configFile}: ${e.message}`);
      throw e;
    }
    const eps = options.executionProviders ?? ['wasm'];
    return new WebUNet2DModel(Object.freeze(cfg), params, options, (bytes) =>
      WebOnnxSession.create(options.ort, bytes, { executionProviders: eps }),
    );
  }
}
