/**
 * UNet2DModel as a ScoreVjpFn: the score and its input VJP from ScoreVjpGraph (gradients/) (one ONNX
 * graph, reverse-mode autodiff of the UNet), over any number of rows. The graph has a fixed batch size, so
 * rows are sent in graph-sized chunks, the last one padded with copies of its first row (padding never
 * reaches the result: rows are independent in a UNet).
 */

import { ScoreVjpGraph } from '../gradients/score-vjp.js';
import type { UNet2DModel } from '../models/unet-2d/model.js';
import type { ExecutionProvider } from '../onnx/session.js';
import { Tensor } from '../tensor.js';
import type { ScoreVjpFn } from './types.js';

export interface UnetScoreVjpOptions {
  /** Rows per graph run (the graph's batch size). */
  batchSize: number;
  /** Image size; default the UNet's sample_size. */
  height?: number;
  width?: number;
  executionProviders?: readonly ExecutionProvider[];
  /** onnxruntime intra-op threads (default: all cores); 1 when several processes share a machine. */
  intraOpThreads?: number;
}

/** A ScoreVjpFn with the graph it owns; call `release()` when done. */
export type UnetScoreVjp = ScoreVjpFn & { readonly batchSize: number; release(): Promise<void> };

function sampleSize(unet: UNet2DModel): [number, number] {
  const s = unet.config.sample_size;
  if (s === null || s === undefined)
    throw new RangeError('the UNet config has no sample_size; pass height and width');
  return Array.isArray(s) ? [s[0], s[1]] : [s, s];
}

/** Compiles the score + VJP graph of `unet` (seconds) and wraps it as a ScoreVjpFn. */
export async function unetScoreVjp(unet: UNet2DModel, options: UnetScoreVjpOptions): Promise<UnetScoreVjp> {
  const [h0, w0] = sampleSize(unet);
  const height = options.height ?? h0;
  const width = options.width ?? w0;
  const graph = await ScoreVjpGraph.create(unet, {
    batchSize: options.batchSize,
    height,
    width,
    executionProviders: options.executionProviders,
    intraOpThreads: options.intraOpThreads,
  });
  const channels = unet.config.in_channels;
  const rowSize = channels * height * width;
  const per = options.batchSize;
  const fn: ScoreVjpFn = async (x, sigma, v) => {
    if (x.dims.length !== 4 || x.dims[1] !== channels || x.dims[2] !== height || x.dims[3] !== width) {
      throw new RangeError(
        `the model takes (B, ${channels}, ${height}, ${width}) images, got [${x.dims.join(', ')}]`,
      );
    }
    const rows = x.dims[0];
    const score = new Float32Array(x.numel);
    const vjp = new Float32Array(x.numel);
    const xs = new Float32Array(per * rowSize);
    const vs = new Float32Array(per * rowSize);
    const ss = new Float32Array(per);
    for (let r0 = 0; r0 < rows; r0 += per) {
      const k = Math.min(per, rows - r0);
      xs.set(x.data.subarray(r0 * rowSize, (r0 + k) * rowSize));
      vs.set(v.data.subarray(r0 * rowSize, (r0 + k) * rowSize));
      ss.set(sigma.subarray(r0, r0 + k));
      for (let p = k; p < per; p++) {
        xs.copyWithin(p * rowSize, 0, rowSize);
        vs.copyWithin(p * rowSize, 0, rowSize);
        ss[p] = ss[0];
      }
      const out = await graph.run(xs, ss, vs);
      score.set(out.score.subarray(0, k * rowSize), r0 * rowSize);
      vjp.set(out.vjp.subarray(0, k * rowSize), r0 * rowSize);
    }
    return { score: new Tensor('float32', score, x.dims), vjp: new Tensor('float32', vjp, x.dims) };
  };
  return Object.assign(fn, { batchSize: per, release: () => graph.release() });
}
