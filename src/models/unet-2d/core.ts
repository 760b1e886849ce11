/**
 * The runtime-free part of diffusers v0.23.0 `UNet2DModel`: weights check, feeds and forward, on any
 * onnxruntime (a `GraphRunnerFactory`). `UNet2DModel` (model.ts) adds files and onnxruntime-node; the
 * browser build (src/web) adds onnxruntime-web. No Node API here.
 */
import { ConfigError, FileFormatError } from '../../errors.js';
import { countFlops } from '../../onnx/flops.js';
import type { GraphRunner, GraphRunnerFactory } from '../../onnx/runner.js';
import { assertFloat32, type Tensor } from '../../tensor.js';
import { buildUnetGraph } from './build.js';
import { minimalSize, type UNet2DConfig } from './config.js';
import { type ClassLabels, conditioningFeeds, perRow, type TimestepInput } from './feeds.js';
import { checkFinite, checkResnetCount, normalizeStateDict, ParamTable, type StateDict } from './weights.js';

export interface UNet2DCoreOptions {
  /** Also return every hooked intermediate (`activations`, keyed by module path) from forward(). For tests. */
  debugOutputs?: boolean;
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

/**
 * Checks a state dict against the architecture of `cfg` (legacy names and float dtypes accepted) and returns
 * it with only the canonical keys, in the architecture's order. Errors name `file` when given.
 */
export function prepareUnetParams(cfg: UNet2DConfig, sd: Map<string, Tensor>, file?: string): StateDict {
  if (!(sd instanceof Map)) throw new TypeError('UNet2DModel: stateDict must be a Map<string, Tensor>');
  const source = file ?? 'state dict';
  const params = normalizeStateDict(sd, cfg.time_embedding_type === 'fourier', source);
  const makeError = (msg: string) => (file ? new FileFormatError(file, msg) : new ConfigError(msg));
  checkResnetCount(cfg, params, makeError);
  const table = new ParamTable(params);
  const s = minimalSize(cfg);
  buildUnetGraph(cfg, table, { height: s, width: s });
  table.check(makeError);
  checkFinite(params, makeError);
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
    const factor = minimalSize(cfg);
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
    if (this.coreOptions.debugOutputs) {
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
