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
import { assertFloat32, Tensor } from '../../tensor.js';
import { buildUnetGraph } from './build.js';
import { configToJson, minimalSize, resolveUnetConfig, type UNet2DConfig } from './config.js';
import { fourierArgument, positionalArgument } from './time.js';
import { checkFinite, checkResnetCount, normalizeStateDict, ParamTable, type StateDict } from './weights.js';

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
  classLabels?: number | readonly number[] | Float32Array | Int32Array | Tensor;
}

export interface UNet2DOutput {
  sample: Tensor<'float32'>;
  /** With `debugOutputs`: intermediate activations by module path (e.g. 'down_blocks.0.resnets.1'). */
  activations?: Map<string, Tensor<'float32'>>;
}

/** Something that becomes one float per batch row. */
export type TimestepInput = number | readonly number[] | Float32Array | Float64Array | Tensor;

function perRow(
  value: TimestepInput | NonNullable<ForwardOptions['classLabels']>,
  batch: number,
  what: string,
): Float64Array {
  let vals: ArrayLike<number>;
  if (typeof value === 'number') vals = [value];
  else if (value instanceof Tensor) {
    if (value.rank > 1)
      throw new RangeError(
        `${what} must be a scalar or have shape [${batch}], got [${value.dims.join(', ')}]`,
      );
    const d = value.data;
    if (d instanceof BigInt64Array) vals = Array.from(d, Number);
    else if (value.dtype === 'float16' || value.dtype === 'bfloat16')
      throw new TypeError(`${what}: ${value.dtype} is not supported`);
    else vals = d as ArrayLike<number>;
  } else if (Array.isArray(value) || ArrayBuffer.isView(value)) vals = value as ArrayLike<number>;
  else throw new TypeError(`${what} must be a number, an array of numbers or a Tensor`);
  if (vals.length !== 1 && vals.length !== batch) {
    throw new RangeError(`${what} has ${vals.length} values; expected 1 or one per batch row (${batch})`);
  }
  const out = new Float64Array(batch);
  for (let i = 0; i < batch; i++) {
    out[i] = Number(vals[vals.length === 1 ? 0 : i]);
    if (Number.isNaN(out[i])) throw new RangeError(`${what}[${i}] is not a number`);
  }
  return out;
}

function toInt64(v: Float64Array, max: number, what: string): Tensor<'int64'> {
  return new Tensor(
    'int64',
    BigInt64Array.from(v, (x, i) => {
      if (!Number.isInteger(x) || x < 0 || x >= max)
        throw new RangeError(`${what}[${i}] = ${x} must be an integer in [0, ${max})`);
      return BigInt(x);
    }),
    [v.length],
  );
}

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
    const source = file ?? 'state dict';
    const params = normalizeStateDict(sd, cfg.time_embedding_type === 'fourier', source);
    const makeError = (msg: string) => (file ? new FileFormatError(file, msg) : new ConfigError(msg));
    checkResnetCount(cfg, params, makeError);
    const table = new ParamTable(params);
    const s = minimalSize(cfg);
    buildUnetGraph(cfg, table, { height: s, width: s });
    table.check(makeError);
    checkFinite(params, makeError);
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
    const factor = minimalSize(cfg);
    if (height % factor !== 0 || width % factor !== 0) {
      throw new RangeError(
        `UNet2DModel.forward: sample height and width must be multiples of ${factor} for ${cfg.block_out_channels.length} blocks, got ${height}×${width}`,
      );
    }
    const t = perRow(timestep, batch, 'UNet2DModel.forward: timestep');
    const feeds: Record<string, Tensor> = { sample };
    this.timeProjFeed(feeds, 'time', t, 'UNet2DModel.forward: timestep');
    if (cfg.time_embedding_type === 'fourier') {
      feeds.timesteps = new Tensor('float32', Float32Array.from(t), [batch, 1, 1, 1]);
    }
    this.classFeeds(feeds, batch, options.classLabels);

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

  /** The time_proj input for `values` (one per row): its host-computed argument, or the embedding row. */
  private timeProjFeed(
    feeds: Record<string, Tensor>,
    input: string,
    values: Float64Array,
    what: string,
  ): void {
    const cfg = this.config;
    const c0 = cfg.block_out_channels[0];
    const v32 = Float32Array.from(values);
    if (cfg.time_embedding_type === 'fourier') {
      // The input is log σ and the output is divided by σ: σ ≤ 0 or ∞ would give a silent NaN image.
      const bad = v32.findIndex((s) => !(s > 0 && Number.isFinite(s)));
      if (bad >= 0) {
        throw new RangeError(
          `${what}[${bad}] is ${values[bad]}; a fourier (NCSN++) model takes σ > 0 and finite (its time input is log σ)`,
        );
      }
      const arg = fourierArgument(v32, this.params.get('time_proj.weight')!.data);
      feeds[`${input}_arg`] = new Tensor('float32', arg, [values.length, c0]);
    } else if (cfg.time_embedding_type === 'positional') {
      const arg = positionalArgument(v32, c0, cfg.freq_shift);
      feeds[`${input}_arg`] = new Tensor('float32', arg, [values.length, Math.floor(c0 / 2)]);
    } else {
      feeds[`${input}_index`] = toInt64(values, cfg.num_train_timesteps!, what);
    }
  }

  private classFeeds(
    feeds: Record<string, Tensor>,
    batch: number,
    labels: ForwardOptions['classLabels'],
  ): void {
    const cfg = this.config;
    const conditioned = cfg.class_embed_type !== null || cfg.num_class_embeds !== null;
    if (!conditioned) {
      if (labels !== undefined)
        throw new RangeError('UNet2DModel.forward: classLabels given, but the model has no class embedding');
      return;
    }
    if (labels === undefined)
      throw new RangeError('UNet2DModel.forward: classLabels are required for class conditioning');
    const c0 = cfg.block_out_channels[0];
    if (cfg.class_embed_type === 'identity') {
      if (!(labels instanceof Tensor))
        throw new TypeError('UNet2DModel.forward: classLabels must be a (B, temb) float32 Tensor');
      assertFloat32(labels, 'UNet2DModel.forward: classLabels', [batch, 4 * c0]);
      feeds.class_emb = labels;
    } else if (cfg.class_embed_type === 'timestep') {
      const what = 'UNet2DModel.forward: classLabels';
      this.timeProjFeed(feeds, 'class', perRow(labels, batch, what), what);
    } else {
      feeds.class_labels = toInt64(
        perRow(labels, batch, 'UNet2DModel.forward: classLabels'),
        cfg.num_class_embeds!,
        'classLabels',
      );
    }
  }

  /** Frees the onnxruntime session (a later forward builds a new one). */
  async release(): Promise<void> {
    const c = this.compiled;
    this.compiled = null;
    const done = await c?.session.catch(() => null);
    await done?.release();
  }
}
