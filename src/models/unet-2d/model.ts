/**
 * UNet2DModel: diffusers v0.23.0 `UNet2DModel` (config, weights, forward) running as one ONNX graph on
 * onnxruntime-node. The session is built on the first forward for that input height × width and reused.
 *
 * The runtime-free part (weights check, feeds, forward) is `UNet2DCore` (core.ts), shared with the browser build.
 *
 * One deliberate difference: diffusers turns a Python scalar timestep into an int64 tensor (10.7 → 10, and
 * σ = 0.5 → log 0 for fourier models). TypeScript has no int/float distinction, so a number is used as given.
 */
import { join } from 'node:path';
import { ConfigError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { readJsonConfig } from '../../io/config.js';
import { saveSafetensors } from '../../io/safetensors.js';
import { findWeightsFile, loadStateDict } from '../../io/weights.js';
import { checkExecutionProviders, type ExecutionProvider, OnnxSession } from '../../onnx/session.js';
import type { Tensor } from '../../tensor.js';
import { configToJson, resolveUnetConfig, type UNet2DConfig } from './config.js';
import { prepareUnetParams, UNet2DCore } from './core.js';
import type { StateDict } from './weights.js';

export interface UNet2DModelOptions {
  /** onnxruntime execution providers, in order of preference; default ['cpu']. */
  executionProviders?: readonly ExecutionProvider[];
  /** Intra-op threads; default: the number of cores. */
  intraOpThreads?: number;
  /** Also return every hooked intermediate (`activations`, keyed by module path) from forward(). For tests. */
  debugOutputs?: boolean;
  /** Receives the unknown-config-keys warning instead of `process.emitWarning`. */
  onWarning?: (message: string, unknownKeys: string[]) => void;
}

export interface FromPretrainedOptions extends UNet2DModelOptions {
  /** diffusers `subfolder`: the model folder inside `dir` (e.g. 'unet'). */
  subfolder?: string;
  /** diffusers `variant`: e.g. 'fp16' loads diffusion_pytorch_model.fp16.safetensors. */
  variant?: string;
  /** diffusers `use_safetensors`: true requires .safetensors, false loads .bin, unset prefers .safetensors. */
  useSafetensors?: boolean;
  /** diffusers `torch_dtype`. Only 'float32': the graph computes in float32 (fp16/bf16 weights are widened on load). */
  dtype?: 'float32';
}

export type { ClassLabels, ForwardOptions, TimestepInput, UNet2DOutput } from './core.js';

export class UNet2DModel extends UNet2DCore {
  private constructor(config: Readonly<UNet2DConfig>, params: StateDict, options: UNet2DModelOptions) {
    super(config, params, options, (bytes) =>
      OnnxSession.create(bytes, {
        executionProviders: options.executionProviders,
        intraOpThreads: options.intraOpThreads,
      }),
    );
  }

  /** Loads `config.json` and the weights from a diffusers model folder. */
  static async fromPretrained(dir: string, options: FromPretrainedOptions = {}): Promise<UNet2DModel> {
    if (typeof dir !== 'string' || dir === '')
      throw new TypeError('UNet2DModel.fromPretrained: dir must be a folder path');
    if (options.dtype !== undefined && options.dtype !== 'float32') {
      throw new RangeError(
        `UNet2DModel.fromPretrained: dtype ${JSON.stringify(options.dtype)} is not supported; the graph computes in float32 ` +
          '(float16 / bfloat16 weights are converted on load)',
      );
    }
    const modelDir = options.subfolder ? join(dir, options.subfolder) : dir;
    const configPath = join(modelDir, 'config.json');
    const raw = await readJsonConfig(configPath);
    const config = resolveUnetConfig(raw, { file: configPath, onWarning: options.onWarning });
    const weightsPath = await findWeightsFile(modelDir, {
      variant: options.variant,
      useSafetensors: options.useSafetensors,
    });
    const sd = await loadStateDict(weightsPath);
    try {
      return UNet2DModel.create(config, sd, options, weightsPath);
    } catch (e) {
      // The config passed its own checks; what the architecture builder refuses is still config.json's fault.
      if (e instanceof ConfigError) throw new ConfigError(`${configPath}: ${e.message}`);
      throw e;
    }
  }

  /**
   * A model from a config (snake_case, as config.json) and a state dict (diffusers names; legacy attention
   * names and any float dtype accepted).
   */
  static fromConfig(
    config: Record<string, unknown>,
    stateDict: Map<string, Tensor>,
    options: UNet2DModelOptions = {},
  ): UNet2DModel {
    const cfg = resolveUnetConfig(config, { onWarning: options.onWarning });
    return UNet2DModel.create(cfg, stateDict, options);
  }

  private static create(
    cfg: UNet2DConfig,
    sd: Map<string, Tensor>,
    options: UNet2DModelOptions,
    file?: string,
  ): UNet2DModel {
    if (!(sd instanceof Map)) throw new TypeError('UNet2DModel: stateDict must be a Map<string, Tensor>');
    checkExecutionProviders(options.executionProviders ?? ['cpu']);
    return new UNet2DModel(Object.freeze(cfg), prepareUnetParams(cfg, sd, file), options);
  }

  /** Writes config.json and diffusion_pytorch_model.safetensors (metadata {format: 'pt'}), atomically. */
  async savePretrained(dir: string): Promise<void> {
    await writeFileAtomic(
      join(dir, 'config.json'),
      `${JSON.stringify(configToJson(this.config), null, 2)}\n`,
    );
    await saveSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), this.stateDict(), {
      format: 'pt',
    });
  }
}
