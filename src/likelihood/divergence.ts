/**
 * The divergence of the probability-flow drift, as score_sde's `get_div_fn` (Hutchinson–Skilling: εᵀ·∂f/∂x·ε
 * with ε held fixed for the whole solve) or exactly (the trace from D basis-vector VJPs, batched).
 * Only the score's Jacobian trace is computed here; the drift's factor −σ²·ln(σmax/σmin) is applied by
 * the caller.
 */

import type { Generator } from '../random/generator.js';
import { defaultGenerator, randn } from '../random/index.js';
import { throwIfAborted } from '../samplers/common.js';
import { numelOf, Tensor } from '../tensor.js';
import type { DivergenceMethod, ScoreVjpFn } from './types.js';

/** One evaluation: the score (B·D, float32), tr(∂score/∂x) per row (B, float64) and the network calls used. */
export interface ScoreAndTrace {
  score: Float32Array;
  trace: Float64Array;
  calls: number;
}

/** `sigma`: one noise level per row of x. */
export type ScoreTraceFn = (x: Tensor<'float32'>, sigma: Float32Array) => Promise<ScoreAndTrace>;

/**
 * The Hutchinson probe ε of `dims`, drawn as torch does so a run can be compared with PyTorch:
 * 'hutchinson-gaussian' is `torch.randn(dims, generator=g)`; 'hutchinson-rademacher' is
 * `torch.randint(0, 2, dims, generator=g) * 2 - 1` (CPU: one 32-bit word per element, `random() % 2`).
 */
export function drawHutchinsonNoise(
  method: Exclude<DivergenceMethod, 'exact'>,
  dims: readonly number[],
  generator: Generator = defaultGenerator,
): Tensor<'float32'> {
  if (method === 'hutchinson-gaussian') return randn(dims, { generator });
  const data = new Float32Array(numelOf(dims));
  for (let i = 0; i < data.length; i++) data[i] = (generator.nextUint32() & 1) * 2 - 1;
  return new Tensor('float32', data, dims);
}

/** Calls the model and checks that both outputs kept the shape and dtype of x. */
async function callScoreVjp(
  fn: ScoreVjpFn,
  x: Tensor<'float32'>,
  sigma: Float32Array,
  v: Tensor<'float32'>,
): Promise<{ score: Float32Array; vjp: Float32Array }> {
  const out = await fn(x, sigma, v);
  for (const name of ['score', 'vjp'] as const) {
    const t = out?.[name];
    if (!(t instanceof Tensor) || t.dtype !== 'float32' || t.numel !== x.numel) {
      throw new RangeError(
        `score model returned a ${name} of ${t?.dtype} [${t?.dims?.join(', ')}] for input [${x.dims.join(', ')}]; expected the same shape in float32`,
      );
    }
  }
  return { score: out.score.data, vjp: out.vjp.data };
}

/** Hutchinson: tr J ≈ εᵀ·(J·ε), one network call with the fixed probe ε (B, C, H, W). */
export function hutchinsonTrace(
  fn: ScoreVjpFn,
  noise: Tensor<'float32'>,
  signal?: AbortSignal,
): ScoreTraceFn {
  return async (x, sigma) => {
    throwIfAborted(signal);
    const batch = x.dims[0];
    const d = x.numel / batch;
    const { score, vjp } = await callScoreVjp(fn, x, sigma, noise);
    const trace = new Float64Array(batch);
    for (let b = 0; b < batch; b++) {
      let acc = 0;
      for (let i = b * d; i < (b + 1) * d; i++) acc += noise.data[i] * vjp[i];
      trace[b] = acc;
    }
    return { score, trace, calls: 1 };
  };
}

/**
 * Exact: tr J = Σᵢ eᵢᵀ·J·eᵢ from D VJPs per row. The B·D (row, basis vector) pairs are sent `rowsPerCall`
 * at a time (rounded down to whole basis vectors for the whole batch, at least one), basis-major: call rows
 * are [x₀…x_{B−1} with e_i, x₀…x_{B−1} with e_{i+1}, …].
 */
export function exactTrace(fn: ScoreVjpFn, rowsPerCall: number, signal?: AbortSignal): ScoreTraceFn {
  return async (x, sigma) => {
    const batch = x.dims[0];
    const d = x.numel / batch;
    const perCall = Math.max(1, Math.min(d, Math.floor(rowsPerCall / batch)));
    const trace = new Float64Array(batch);
    let score: Float32Array | undefined;
    let calls = 0;
    for (let i0 = 0; i0 < d; i0 += perCall) {
      throwIfAborted(signal);
      const k = Math.min(perCall, d - i0);
      const rows = k * batch;
      const xs = new Float32Array(rows * d);
      const vs = new Float32Array(rows * d);
      const sigmas = new Float32Array(rows);
      for (let j = 0; j < k; j++) {
        xs.set(x.data, j * batch * d);
        sigmas.set(sigma, j * batch);
        for (let b = 0; b < batch; b++) vs[(j * batch + b) * d + i0 + j] = 1;
      }
      const dims = [rows, ...x.dims.slice(1)];
      const out = await callScoreVjp(
        fn,
        new Tensor('float32', xs, dims),
        sigmas,
        new Tensor('float32', vs, dims),
      );
      calls++;
      score ??= out.score.slice(0, batch * d);
      for (let j = 0; j < k; j++)
        for (let b = 0; b < batch; b++) trace[b] += out.vjp[(j * batch + b) * d + i0 + j];
    }
    return { score: score as Float32Array, trace, calls };
  };
}
