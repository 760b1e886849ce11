/**
 * The input vector–Jacobian product of the score model, as Hutchinson's trace estimator needs it for exact
 * likelihoods (score_sde `likelihood.py` get_div_fn): vjp = d/dx Σ (unet(x, σ) · ε) = εᵀ ∂score/∂x, with the
 * score unet(x, σ) from the same run. One compiled graph; the parameters are constants.
 */
import { buildUnetGraph } from '../models/unet-2d/build.js';
import { type ClassLabels, conditioningFeeds } from '../models/unet-2d/feeds.js';
import type { UNet2DModel } from '../models/unet-2d/model.js';
import { ParamTable } from '../models/unet-2d/weights.js';
import { grad } from '../onnx/autodiff/grad.js';
import type { ConvPath } from '../onnx/nchwc.js';
import { type OnnxSession, resolveConvPath } from '../onnx/session.js';
import { Tensor } from '../tensor.js';
import { checkGraphSize, type GradientGraphOptions, gradientSession } from './gradient-session.js';

/**
 * The graph's batch and image size and its session settings. The weights are constants here, so onnxruntime itself
 * runs the convolutions (the forward's and the transposed ones of the backward) on its NCHWc kernels where it has
 * them: `convPath` 'auto' and 'blocked' keep that; 'standard' turns it off, so every convolution runs on the
 * standard kernels (as onnxruntime-web and other providers run them).
 */
export type ScoreVjpOptions = GradientGraphOptions;

export interface ScoreVjpResult {
  /** unet(x, σ).sample, (B, C, H, W). */
  score: Float32Array;
  /** εᵀ ∂score/∂x, (B, C, H, W). */
  vjp: Float32Array;
}

export class ScoreVjpGraph {
  private constructor(
    private readonly unet: UNet2DModel,
    readonly batchSize: number,
    readonly height: number,
    readonly width: number,
    /** The convolution kernels the session runs (see ScoreVjpOptions.convPath). */
    readonly convPath: ConvPath,
    private session: OnnxSession | null,
  ) {}

  static async create(unet: UNet2DModel, options: ScoreVjpOptions): Promise<ScoreVjpGraph> {
    checkGraphSize('ScoreVjpGraph', options);
    const { batchSize, height, width } = options;
    const g = buildUnetGraph(unet.config, new ParamTable(unet.stateDict()), {
      height,
      width,
      batch: batchSize,
    });
    const dims = [batchSize, unet.config.out_channels, height, width];
    const eps = g.input('eps', 'float32', dims);
    const dot = g.reduceSum(g.mul('output', eps), [0, 1, 2, 3], false);
    g.output(grad(g, dot, ['sample']).get('sample')!, 'vjp');
    const conv = await resolveConvPath(options.convPath, options.executionProviders);
    const session = await gradientSession(g.toModelBytes(), options, {
      nchwcTransformer: conv.path === 'blocked',
    });
    return new ScoreVjpGraph(unet, batchSize, height, width, conv.path, session);
  }

  /** Score and VJP at x (B, C, H, W) and σ (B, one per row) for the probe ε (B, C, H, W). */
  async run(
    x: Float32Array,
    sigma: ArrayLike<number>,
    eps: Float32Array,
    classLabels?: ClassLabels,
  ): Promise<ScoreVjpResult> {
    if (!this.session) throw new Error('ScoreVjpGraph: run() after release()');
    const cfg = this.unet.config;
    const dims = [this.batchSize, cfg.in_channels, this.height, this.width];
    const n = dims.reduce((p, d) => p * d, 1);
    if (x.length !== n || eps.length !== n || sigma.length !== this.batchSize)
      throw new RangeError(
        `ScoreVjpGraph.run: need x and eps of ${n} values ([${dims.join(', ')}]) and ${this.batchSize} sigmas`,
      );
    const feeds: Record<string, Tensor> = {
      sample: new Tensor('float32', x, dims),
      eps: new Tensor('float32', eps, dims),
      ...conditioningFeeds(
        cfg,
        this.unet.stateDict().get('time_proj.weight')?.data,
        Float64Array.from(sigma),
        classLabels,
      ),
    };
    const out = await this.session.run(feeds, ['output', 'vjp']);
    return { score: out.get('output')!.data as Float32Array, vjp: out.get('vjp')!.data as Float32Array };
  }

  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}
