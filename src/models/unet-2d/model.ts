/**
 * UNet2DModel: diffusers v0.23.0 `UNet2DModel` (config, weights, forward) running as one ONNX graph on
 * onnxruntime-node. The session is built on the first forward for that input height × width and reused.
 *
 * One deliberate difference: diffusers turns a Python scalar timestep into an int64 tensor (10.7 → 10, and
 * σ = 0.5 → log 0 for fourier models). TypeScript has no int/float distinction, so a number is used as given.
 */
import { join } from 'node:path';
import { ConfigError, FileFormatError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { readJsonConfig } from '../../io/config.js';
import { saveSafetensors } from '../../io/safetensors.js';
import { findWeightsFile, loadStateDict } from '../../io/weights.js';
import { countFlops } from '../../onnx/flops.js';
import { checkExecutionProviders, type ExecutionProvider, OnnxSession } from '../../onnx/session.js';
import { assertFloat32, type Tensor } from '../../tensor.js';
import { buildUnetGraph } from './build.js';
import { configToJson, resolveUnetConfig, type UNet2DConfig } from './config.js';
import { type ClassLabels, conditioningFeeds, perRow, type TimestepInput } from './feeds.js';
import { normalizeStateDict, ParamTable, type StateDict } from './weights.js';

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

export interface ForwardOptions {
  /** diffusers `class_labels`: int labels (B) for num_class_embeds / 'timestep', a (B, temb) Tensor for 'identity'. */
  classLabels?: ClassLabels;
}

export interface UNet2DOutput {
  sample: Tensor<'float32'>;
  /** With `debugOutputs`: intermediate activations by module path (e.g. 'down_blocks.0.resnets.1'). */
  activations?: Map<string, Tensor<'float32'>>;
}

export type { ClassLabels, TimestepInput };

interface Compiled {
  height: number;
  width: number;
  session: Promise<OnnxSession>;
}

export class UNet2DModel {
  private compiled: Compiled | null = null;
  private flopsCache = new Map<string, number>();

  private constructor(
    readonly config: Readonly<UNet2DConfig>,
    private readonly params: StateDict,
    private readonly options: UNet2DModelOptions,
  ) {}

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
    return UNet2DModel.create(config, sd, options, weightsPath);
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
    const source = file ?? 'state dict';
    const params = normalizeStateDict(sd, cfg.time_embedding_type === 'fourier', source);
    const table = new ParamTable(params);
    const s = 2 ** (cfg.block_out_channels.length - 1);
    buildUnetGraph(cfg, table, { height: s, width: s });
    table.check((msg) => (file ? new FileFormatError(file, msg) : new ConfigError(msg)));
    // Keep only the canonical keys, in the architecture's order.
    const ordered: StateDict = new Map([...table.expected.keys()].map((k) => [k, params.get(k)!]));
    return new UNet2DModel(Object.freeze(cfg), ordered, options);
  }

  /** Number of parameters (a shared parameter counted once, as torch's `parameters()` does). */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.numel;
    return n;
  }

  /**
   * The state-dict keys training updates, in build order: every parameter except the fourier
   * `time_proj.weight` (GaussianFourierProjection's W, a frozen buffer in diffusers: it gets no gradient).
   */
  trainableParameterNames(): string[] {
    const fourier = this.config.time_embedding_type === 'fourier';
    return [...this.params.keys()].filter((k) => !(fourier && k === 'time_proj.weight'));
  }

  /** The state dict as diffusers 0.23.0 writes it (fourier models carry `time_proj.W` beside `time_proj.weight`). */
  stateDict(): Map<string, Tensor<'float32'>> {
    const out = new Map(this.params);
    if (this.config.time_embedding_type === 'fourier')
      out.set('time_proj.W', this.params.get('time_proj.weight')!);
    return out;
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

  private spatial(height?: number, width?: number): [number, number] {
    const ss = this.config.sample_size;
    const def = ss === null ? undefined : typeof ss === 'number' ? [ss, ss] : ss;
    const h = height ?? def?.[0];
    const w = width ?? def?.[1] ?? h;
    if (h === undefined || w === undefined)
      throw new RangeError('UNet2DModel: sample_size is null; pass the height and width');
    return [h, w];
  }

  /** FLOPs (2 × MACs of convs and matmuls) of one forward at this batch size and input size (default sample_size). */
  flopsPerForward(batch = 1, height?: number, width?: number): number {
    const [h, w] = this.spatial(height, width);
    const key = `${h}x${w}`;
    let perRowFlops = this.flopsCache.get(key);
    if (perRowFlops === undefined) {
      perRowFlops = countFlops(buildUnetGraph(this.config, new ParamTable(null), { height: h, width: w }), 1);
      this.flopsCache.set(key, perRowFlops);
    }
    return perRowFlops * batch;
  }

  /** The session for this input size: reused while the size stays, rebuilt (old one freed) when it changes. */
  private session(height: number, width: number): Promise<OnnxSession> {
    const current = this.compiled;
    if (current && current.height === height && current.width === width) return current.session;
    const previous = current?.session;
    const session = (async () => {
      const old = await previous?.catch(() => null);
      await old?.release();
      const g = buildUnetGraph(this.config, new ParamTable(this.params), {
        height,
        width,
        activations: this.options.debugOutputs ?? false,
      });
      return OnnxSession.create(g.toModelBytes(), {
        executionProviders: this.options.executionProviders,
        intraOpThreads: this.options.intraOpThreads,
      });
    })();
    this.compiled = { height, width, session };
    return session;
  }

  /**
   * diffusers `UNet2DModel.forward(sample, timestep, class_labels)`. `timestep`: one value per batch row or
   * one for all (a number is used as given, see the class note). Returns `{ sample }` (B, out_channels, H, W).
   */
  async forward(
    sample: Tensor,
    timestep: TimestepInput,
    options: ForwardOptions = {},
  ): Promise<UNet2DOutput> {
    const cfg = this.config;
    assertFloat32(sample, 'UNet2DModel.forward: sample', [-1, cfg.in_channels, -1, -1]);
    const [batch, , height, width] = sample.dims;
    if (batch < 1) throw new RangeError('UNet2DModel.forward: sample has an empty batch');
    const factor = 2 ** (cfg.block_out_channels.length - 1);
    if (height % factor !== 0 || width % factor !== 0) {
      throw new RangeError(
        `UNet2DModel.forward: sample height and width must be multiples of ${factor} for ${cfg.block_out_channels.length} blocks, got ${height}×${width}`,
      );
    }
    const t = perRow(timestep, batch, 'UNet2DModel.forward: timestep');
    const feeds: Record<string, Tensor> = {
      sample,
      ...conditioningFeeds(cfg, this.params.get('time_proj.weight')?.data, t, options.classLabels),
    };

    const session = await this.session(height, width);
    const out = await session.run(feeds);
    const result: UNet2DOutput = { sample: out.get('output') as Tensor<'float32'> };
    if (this.options.debugOutputs) {
      result.activations = new Map();
      for (const [name, v] of out)
        if (name.startsWith('act/')) result.activations.set(name.slice(4), v as Tensor<'float32'>);
    }
    return result;
  }

  /** Frees the onnxruntime session (a later forward builds a new one). */
  async release(): Promise<void> {
    const c = this.compiled;
    this.compiled = null;
    const done = await c?.session.catch(() => null);
    await done?.release();
  }
}
