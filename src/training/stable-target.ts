/**
 * Stable Target Field (Xu, Tong & Jaakkola, ICLR 2023) for the VE loss. Denoising score matching regresses
 * σ·s(x, σ) on −z for x = x0 + σz: at large σ that target is almost all noise (the data's share of −z is
 * x0's deviation from the posterior mean, divided by σ), so the loss there learns slowly however often it is
 * drawn. STF regresses on the posterior mean over a reference batch R instead of the one x0 the row came from:
 *
 *   T_j = Σ_i w_ij r_i,   w_ij = softmax_i(−‖x_j − r_i‖² / (2σ_j²)),   R = the training batch + n − B data images
 *
 * For small σ the row's own image takes all the weight (T_j = x0_j: plain DSM); for large σ T_j is close to
 * E[x0 | x_j], whose spread is far smaller than x0's. The target's bias shrinks as 1/n (the paper's bound).
 *
 * It reaches the loss graph through its own inputs: (x0, z) → (T, (x − T)/σ) keeps x = x0 + σz, the network's
 * input, and makes the target −(x − T)/σ; the graph is unchanged.
 */

import { flipRows } from '../data/loader.js';
import type { ImageDataset } from '../data/types.js';
import { GraphBuilder } from '../onnx/graph.js';
import { OnnxSession } from '../onnx/session.js';
import { type Generator, rand } from '../random/index.js';
import { Tensor } from '../tensor.js';

/** One row's reference set, as (count, d) images: the batch's own and the extra draws. */
export interface ReferenceImages {
  /** (n, d) images, row-major. */
  data: Float32Array;
  count: number;
}

/**
 * softmax_i(−‖x_j − r_i‖² / (2σ_j²)) · R per row, in onnxruntime: ‖x_j‖² is the same for every i and drops out
 * of the softmax, leaving logits (2 x_j·r_i − ‖r_i‖²) / (2σ_j²) from one matrix product (B·n·d multiply-adds:
 * 50M for a batch of 64 against 1024 Fashion-MNIST images, ~1 s in a JavaScript loop, milliseconds here). The
 * float32 expansion costs ~1e-4 in a distance; that moves a logit by 1e-4/(2σ²), negligible wherever the
 * weights mix (σ² above the images' distance gaps, ~1), and where they do not the row's own image wins by far.
 */
function targetGraph(d: number): Uint8Array {
  const g = new GraphBuilder('stable_target');
  const x = g.input('x', 'float32', ['b', d]); // (B, d) noisy images
  const r = g.input('references', 'float32', ['n', d]); // (n, d)
  const scale = g.input('inv_two_sigma_sq', 'float32', ['b', 1]); // (B, 1) 1 / (2σ²)
  const dots = g.op(
    'Gemm',
    [x, r],
    { transB: { type: 'int', value: 1 }, alpha: { type: 'float', value: 2 } },
    ['b', 'n'],
  ); // (B, n) 2 x·r
  // Opset 13's ReduceSumSquare takes its axes as an attribute.
  const rr = g.op(
    'ReduceSumSquare',
    [r],
    { axes: { type: 'ints', value: [1] }, keepdims: { type: 'int', value: 0 } },
    ['n'],
  ); // (n) ‖r‖²
  const logits = g.mul(g.sub(dots, rr), scale); // (B, n)
  g.output(g.matmul(g.softmax(logits, 1), r), 'target'); // (B, d)
  return g.toModelBytes();
}

/** STF's targets for a run: one small onnxruntime session, made once. */
export class StableTargets {
  private constructor(
    private readonly session: OnnxSession,
    readonly imageSize: number,
  ) {}

  /** For images of `imageSize` values (C·H·W). */
  static async create(imageSize: number, intraOpThreads?: number): Promise<StableTargets> {
    return new StableTargets(await OnnxSession.create(targetGraph(imageSize), { intraOpThreads }), imageSize);
  }

  /**
   * The STF inputs of a batch: (x0, z) → (T, z') with T the rows' reference posterior means and
   * z' = (x0 + σz − T)/σ (in double, rounded once). `x0`, `z`: (B, d); `sigma`: (B); `refs`: the reference
   * images, the batch's own rows among them.
   */
  async targets(
    x0: Float32Array,
    z: Float32Array,
    sigma: Float32Array,
    refs: ReferenceImages,
  ): Promise<{ x0: Float32Array; z: Float32Array }> {
    const batch = sigma.length;
    const d = this.imageSize;
    if (x0.length !== batch * d || z.length !== x0.length || refs.data.length !== refs.count * d)
      throw new RangeError('StableTargets: x0, z, sigma and the references disagree in size');
    const x = new Float64Array(x0.length);
    for (let b = 0; b < batch; b++) for (let k = b * d; k < (b + 1) * d; k++) x[k] = x0[k] + sigma[b] * z[k];
    const out = await this.session.run({
      x: new Tensor('float32', Float32Array.from(x), [batch, d]),
      references: new Tensor('float32', refs.data, [refs.count, d]),
      inv_two_sigma_sq: new Tensor(
        'float32',
        Float32Array.from(sigma, (s) => 1 / (2 * s * s)),
        [batch, 1],
      ),
    });
    const target = out.get('target')!.data as Float32Array;
    const zOut = new Float32Array(z.length);
    for (let b = 0; b < batch; b++)
      for (let k = b * d; k < (b + 1) * d; k++) zOut[k] = (x[k] - target[k]) / sigma[b];
    return { x0: target, z: zOut };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * The reference batch of `count` images: the training batch's own (`x0`, first), then `count − B` drawn
 * uniformly with replacement from `dataset` by `generator` (one uniform each, then one more each for the flip
 * when `flip`: p = 0.5, as the loader's).
 */
export async function drawReferenceImages(
  dataset: ImageDataset,
  generator: Generator,
  x0: Float32Array,
  count: number,
  flip: boolean,
): Promise<ReferenceImages> {
  const { channels: c, height: h, width: w, length } = dataset;
  const d = c * h * w;
  const own = x0.length / d;
  const extra = count - own;
  const data = new Float32Array(count * d);
  data.set(x0);
  const u = rand([extra], { generator }).data as Float32Array;
  const flips = flip ? (rand([extra], { generator }).data as Float32Array) : undefined;
  for (let i = 0; i < extra; i++) {
    const at = (own + i) * d;
    await dataset.read(Math.min(Math.floor(u[i] * length), length - 1), data, at);
    if (flips && flips[i] < 0.5) flipRows(data, at, c * h, w);
  }
  return { data, count };
}
