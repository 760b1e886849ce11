/**
 * UNet2DModel in the browser: the same graph, feeds and weights check as the Node `UNet2DModel`
 * (shared `UNet2DCore`), run by onnxruntime-web.
 */
import type * as OrtWeb from 'onnxruntime-web';
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
  /** Names the weights source in error messages (e.g. its URL). */
  file?: string;
}

export class WebUNet2DModel extends UNet2DCore {
  /** diffusers `UNet2DModel.from_config` + `load_state_dict`: a config (as config.json) and a state dict. */
  static fromConfig(
    config: Record<string, unknown>,
    stateDict: Map<string, Tensor>,
    options: WebUNet2DModelOptions,
  ): WebUNet2DModel {
    const onWarning = options.onWarning ?? ((m: string) => console.warn(m));
    const cfg = resolveUnetConfig(config, { file: options.file, onWarning });
    const params = prepareUnetParams(cfg, stateDict, options.file);
    const eps = options.executionProviders ?? ['wasm'];
    return new WebUNet2DModel(Object.freeze(cfg), params, options, (bytes) =>
      WebOnnxSession.create(options.ort, bytes, { executionProviders: eps }),
    );
  }
}
