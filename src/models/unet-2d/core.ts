/**
 * The runtime-free part of diffusers v0.23.0 `UNet2DModel`: weights check, feeds and forward, on any
 * onnxruntime (`GraphRunnerFactory`). `UNet2DModel` (model.ts) adds files and onnxruntime-node; the browser
 * build (src/web) adds onnxruntime-web. No Node API here.
 */
import { ConfigError, FileFormatError } from '../../errors.js';
import { countFlops } from '../../onnx/flops.js';
import type { GraphRunner, GraphRunnerFactory } from '../../onnx/runner.js';
import { assertFloat32, Tensor } from '../../tensor.js';
import { buildUnetGraph } from './build.js';
import type { UNet2DConfig } from './config.js';
import { fourierArgument, positionalArgument } from './time.js';
import { normalizeStateDict, ParamTable, type StateDict } from './weights.js';

export interface UNet2DCoreOptions {
  /** Also return every hooked intermediate (`activations`, keyed by module path) from forward(). For tests. */
  debugOutputs?: boolean;
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

/**
 * Checks a state dict against the architecture of `cfg` (legacy names and float dtypes accepted) and
 * returns it with the canonical keys in the architecture's order. Errors name `file` when given.
 */
export function prepareUnetParams(cfg: UNet2DConfig, sd: Map<string, Tensor>, file?: string): StateDict {
  if (!(sd instanceof Map)) throw new TypeError('UNet2DModel: stateDict must be a Map<string, Tensor>');
  const source = file ?? 'state dict';
  const params = normalizeStateDict(sd, cfg.time_embedding_type === 'fourier', source);
  const table = new ParamTable(params);
  const s = 2 ** (cfg.block_out_channels.length - 1);
  buildUnetGraph(cfg, table, { height: s, width: s });
  table.check((msg) => (file ? new FileFormatError(file, msg) : new ConfigError(msg)));
  return new Map([...table.expected.keys()].map((k) => [k, params.get(k)!]));
}

interface Compiled {
  height: number;
  width: number;
  session: Promise<GraphRunner>;
}

export class UNet2DCore {
  private compiled: Compiled | null = null;
  private flopsCache = new Map<string, number>();

  /** `params` must come from prepareUnetParams; `createRunner` builds a session from the graph bytes. */
  protected constructor(
    readonly config: Readonly<UNet2DConfig>,
    protected readonly params: StateDict,
    private readonly coreOptions: UNet2DCoreOptions,
    private readonly createRunner: GraphRunnerFactory,
  ) {}

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
  private session(height: number, width: number): Promise<GraphRunner> {
    const current = this.compiled;
    if (current && current.height === height && current.width === width) return current.session;
    const previous = current?.session;
    const session = (async () => {
      const old = await previous?.catch(() => null);
      await old?.release();
      const g = buildUnetGraph(this.config, new ParamTable(this.params), {
        height,
        width,
        activations: this.coreOptions.debugOutputs ?? false,
      });
      return this.createRunner(g.toModelBytes());
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
    const feeds: Record<string, Tensor> = { sample };
    this.timeProjFeed(feeds, 'time', t, 'UNet2DModel.forward: timestep');
    if (cfg.time_embedding_type === 'fourier') {
      feeds.timesteps = new Tensor('float32', Float32Array.from(t), [batch, 1, 1, 1]);
    }
    this.classFeeds(feeds, batch, options.classLabels);

    const session = await this.session(height, width);
    const out = await session.run(feeds);
    const result: UNet2DOutput = { sample: out.get('output') as Tensor<'float32'> };
    if (this.coreOptions.debugOutputs) {
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
