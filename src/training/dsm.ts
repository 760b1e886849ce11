/**
 * score_sde's continuous VE denoising score matching (`losses.py` get_sde_loss_fn with reduce_mean=False,
 * continuous=True, likelihood_weighting=False) with diffusers' UNet2DModel as the score model:
 *
 *   σ = σ_min · (σ_max / σ_min)^t,  x_t = x0 + σ z,  loss = mean_b ½ Σ_{c,h,w} (σ · score(x_t, σ) + z)²
 *
 * `DsmStepGraph` is one compiled onnxruntime graph computing the loss and d loss / d θ for every trainable
 * parameter, with the parameters as graph inputs: build it once, then `run` it every step with the current
 * weights. `dsmLossAndGradients` is the one-shot form on a loaded UNet2DModel.
 */
import { ConfigError } from '../errors.js';
import { checkGraphSize, type GradientGraphOptions, gradientSession } from '../gradients/gradient-session.js';
import { InputParams } from '../gradients/input-params.js';
import { buildUnetGraph } from '../models/unet-2d/build.js';
import type { UNet2DConfig } from '../models/unet-2d/config.js';
import { type ClassLabels, conditioningFeeds } from '../models/unet-2d/feeds.js';
import type { UNet2DModel } from '../models/unet-2d/model.js';
import { grad } from '../onnx/autodiff/grad.js';
import { type ConvPath, lowerConvsToNchwc } from '../onnx/nchwc.js';
import { type ConvPathOption, type OnnxSession, resolveConvPath } from '../onnx/session.js';
import type { Generator } from '../random/generator.js';
import { rand } from '../random/sampling.js';
import { assertFloat32, Tensor } from '../tensor.js';
import { DEFAULT_SIGMA_MAX, DEFAULT_SIGMA_MIN } from './noise.js';

const f32 = Math.fround;

/** VESDE.marginal_prob std: σ_min · (σ_max / σ_min)^t per row, rounded as torch's float32 ops round. */
export function vesdeSigma(
  t: ArrayLike<number>,
  sigmaMin = DEFAULT_SIGMA_MIN,
  sigmaMax = DEFAULT_SIGMA_MAX,
): Float32Array {
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin && Number.isFinite(sigmaMax)))
    throw new RangeError(`DSM: need 0 < sigmaMin < sigmaMax < ∞, got ${sigmaMin}, ${sigmaMax}`);
  const ratio = sigmaMax / sigmaMin;
  return Float32Array.from(t, (v) => f32(sigmaMin * f32(ratio ** f32(v))));
}

/**
 * The graph's batch and image size and its session settings. `convPath` 'blocked' rewrites the convolutions (whose
 * weights are graph inputs here, forward and input-gradient) to onnxruntime's NCHWc kernels; 'standard' keeps the
 * graph of standard ops.
 */
export type DsmGraphOptions = GradientGraphOptions;

export interface DsmBatch {
  /** Clean data x0, (B, C, H, W) row-major. */
  x0: Float32Array;
  /** σ per row (B), e.g. from {@link vesdeSigma}. */
  sigma: Float32Array;
  /** The noise z ~ N(0, I), (B, C, H, W). */
  z: Float32Array;
  /** Class labels for class-conditional models (as UNet2DModel.forward's classLabels). */
  classLabels?: ClassLabels;
  /**
   * Dropout masks by graph input name (see `dropoutInputs`), each 0 or 1 / (1 − p) per element; required when
   * the config has dropout > 0. {@link DsmStepGraph.drawDropoutMasks} draws them from a seeded Generator.
   */
  dropoutMasks?: Map<string, Float32Array>;
}

export interface DsmResult {
  /** The batch mean of the per-sample losses. */
  loss: number;
  /** ½ Σ_{c,h,w} (σ · score + z)² per row (B). */
  perSampleLoss: Float32Array;
  /** d loss / d θ by state-dict key, for every trainable parameter. */
  grads: Map<string, Float32Array>;
}

const numel = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

/**
 * One compiled graph for DSM training steps at a fixed batch size and image size. Parameters are inputs
 * (`parameterShapes`, all trainable parameters in build order); outputs are the loss, the per-sample losses
 * and `grad/<key>` for each parameter. The fourier `time_proj.weight` (W) is read on the host only: pass it
 * in `params` too (it is frozen and gets no gradient).
 *
 * Usage (a trainer): `const step = await DsmStepGraph.create(unet.config, { batchSize, height, width })`, then
 * per step `const { loss, grads } = await step.run(params, { x0, sigma: vesdeSigma(t), z })`, update
 * `params` from `grads` (Adam, EMA) and repeat; `await step.release()` at the end.
 */
export class DsmStepGraph {
  private constructor(
    readonly config: Readonly<UNet2DConfig>,
    readonly batchSize: number,
    readonly height: number,
    readonly width: number,
    /** Trainable parameters by state-dict key, in build order, with their shapes. */
    readonly parameterShapes: ReadonlyMap<string, readonly number[]>,
    /** Dropout mask inputs (one per ResnetBlock2D when config.dropout > 0) with their shapes. */
    readonly dropoutInputs: ReadonlyMap<string, readonly number[]>,
    /** The convolution kernels the session runs (see DsmGraphOptions.convPath). */
    readonly convPath: ConvPath,
    private session: OnnxSession | null,
  ) {}

  static async create(config: Readonly<UNet2DConfig>, options: DsmGraphOptions): Promise<DsmStepGraph> {
    checkGraphSize('DsmStepGraph', options);
    const { batchSize, height, width } = options;
    const g = DsmStepGraph.build(config, batchSize, height, width);
    const conv = await resolveConvPath(options.convPath, options.executionProviders);
    if (conv.block !== null) lowerConvsToNchwc(g.graph, conv.block);
    const session = await gradientSession(g.graph.toModelBytes(), options);
    return new DsmStepGraph(config, batchSize, height, width, g.params, g.dropout, conv.path, session);
  }

  /** The graph alone (for FLOP counts and tests): forward, loss, backward. */
  static build(config: Readonly<UNet2DConfig>, batchSize: number, height: number, width: number) {
    const params = new InputParams();
    const g = buildUnetGraph(config, params, { height, width, batch: batchSize, dropoutMasks: true });
    const dims = [batchSize, config.out_channels, height, width];
    if (config.out_channels !== config.in_channels)
      throw new ConfigError(
        `DSM needs out_channels = in_channels (the score has the data's shape), got ${config.out_channels} and ${config.in_channels}`,
      );
    const sigma = g.input('sigma', 'float32', [batchSize, 1, 1, 1]);
    const z = g.input('z', 'float32', dims);
    const r = g.add(g.mul('output', sigma), z); // σ · score + z
    const sq = g.op(
      'ReduceSumSquare',
      [r],
      { axes: { type: 'ints', value: [1, 2, 3] }, keepdims: { type: 'int', value: 0 } },
      [batchSize],
    );
    const perSample = g.mul(sq, g.constFloat([0.5], []));
    const loss = g.reduceMean(perSample, [0], false);
    g.output(perSample, 'per_sample_loss');
    g.output(loss, 'loss');
    const names = [...params.trainable.keys()];
    const grads = grad(g, loss, names);
    for (const n of names) g.output(grads.get(n)!, `grad/${n}`);
    const dropout = new Map<string, number[]>();
    for (const i of g.inputs) if (i.name.startsWith('dropout/')) dropout.set(i.name, i.dims as number[]);
    return { graph: g, params: params.trainable as Map<string, number[]>, dropout };
  }

  /** Draws every dropout mask from `generator` (torch.rand order: one mask after another, row-major). */
  drawDropoutMasks(generator: Generator): Map<string, Float32Array> {
    const p = this.config.dropout;
    const keep = 1 / (1 - p);
    const out = new Map<string, Float32Array>();
    for (const [name, dims] of this.dropoutInputs) {
      const u = rand(dims, { generator }).data;
      out.set(
        name,
        u.map((v) => (v < p ? 0 : keep)),
      );
    }
    return out;
  }

  /** One forward + backward. `params` maps state-dict keys to data (every trainable key, plus fourier time_proj.weight). */
  async run(params: ReadonlyMap<string, Float32Array>, batch: DsmBatch): Promise<DsmResult> {
    if (!this.session) throw new Error('DsmStepGraph: run() after release()');
    const b = this.batchSize;
    const dims = [b, this.config.in_channels, this.height, this.width];
    const n = numel(dims);
    const { x0, sigma, z } = batch;
    if (x0.length !== n || z.length !== n || sigma.length !== b)
      throw new RangeError(
        `DsmStepGraph.run: need x0 and z of ${n} values ([${dims.join(', ')}]) and ${b} sigmas, got ${x0.length}, ${z.length}, ${sigma.length}`,
      );
    const feeds: Record<string, Tensor> = {};
    for (const [name, shape] of this.parameterShapes) {
      const d = params.get(name);
      if (!d || d.length !== numel(shape))
        throw new RangeError(`DsmStepGraph.run: parameter ${name} missing or not ${numel(shape)} values`);
      feeds[name] = new Tensor('float32', d, shape);
    }
    // x_t = x0 + σ z, rounded as torch rounds (σ z first).
    const xt = new Float32Array(n);
    const per = n / b;
    for (let i = 0; i < n; i++) xt[i] = x0[i] + f32(sigma[Math.floor(i / per)] * z[i]);
    feeds.sample = new Tensor('float32', xt, dims);
    feeds.z = new Tensor('float32', z, dims);
    feeds.sigma = new Tensor('float32', sigma, [b, 1, 1, 1]);
    Object.assign(
      feeds,
      conditioningFeeds(
        this.config,
        params.get('time_proj.weight'),
        Float64Array.from(sigma),
        batch.classLabels,
      ),
    );
    for (const [name, shape] of this.dropoutInputs) {
      const m = batch.dropoutMasks?.get(name);
      if (!m || m.length !== numel(shape))
        throw new RangeError(
          `DsmStepGraph.run: dropout mask ${name} missing (config.dropout > 0) or wrong size`,
        );
      feeds[name] = new Tensor('float32', m, shape);
    }
    const outNames = ['loss', 'per_sample_loss', ...[...this.parameterShapes.keys()].map((k) => `grad/${k}`)];
    const out = await this.session.run(feeds, outNames);
    const grads = new Map<string, Float32Array>();
    for (const k of this.parameterShapes.keys()) grads.set(k, out.get(`grad/${k}`)!.data as Float32Array);
    return {
      loss: (out.get('loss')!.data as Float32Array)[0],
      perSampleLoss: out.get('per_sample_loss')!.data as Float32Array,
      grads,
    };
  }

  /** Frees the onnxruntime session. */
  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}

export interface DsmOptions {
  /** Clean data (B, C, H, W) float32. */
  x0: Tensor;
  /** The diffusion time per row, t ∈ (0, 1] (score_sde draws U(1e-5, 1)). */
  t: ArrayLike<number>;
  /** The noise (B, C, H, W) float32. */
  z: Tensor;
  sigmaMin?: number;
  sigmaMax?: number;
  classLabels?: ClassLabels;
  /** Dropout masks (configs with dropout > 0); see DsmStepGraph.drawDropoutMasks. */
  dropoutMasks?: Map<string, Float32Array>;
  /** The convolution kernels (DsmGraphOptions.convPath). */
  convPath?: ConvPathOption;
}

/**
 * score_sde's DSM loss of one batch and d loss / d θ for every trainable parameter of `unet`, keyed by
 * state-dict key. Compiles a graph for this batch shape, runs it once and frees it; a training loop should
 * use DsmStepGraph directly.
 */
export async function dsmLossAndGradients(unet: UNet2DModel, options: DsmOptions): Promise<DsmResult> {
  const { x0, z } = options;
  assertFloat32(x0, 'dsmLossAndGradients: x0', [-1, unet.config.in_channels, -1, -1]);
  assertFloat32(z, 'dsmLossAndGradients: z', x0.dims);
  const [b, , h, w] = x0.dims;
  if (options.t.length !== b)
    throw new RangeError(`dsmLossAndGradients: t has ${options.t.length} values for ${b} rows`);
  const sigma = vesdeSigma(options.t, options.sigmaMin, options.sigmaMax);
  const step = await DsmStepGraph.create(unet.config, {
    batchSize: b,
    height: h,
    width: w,
    convPath: options.convPath,
  });
  try {
    const params = new Map([...unet.stateDict()].map(([k, t]) => [k, t.data]));
    return await step.run(params, {
      x0: x0.data,
      sigma,
      z: z.data,
      classLabels: options.classLabels,
      dropoutMasks: options.dropoutMasks,
    });
  } finally {
    await step.release();
  }
}
