/**
 * The largest pairwise Euclidean distance between the rows of a data set: score_sde's rule for σ_max.
 *
 * As in nearest-neighbour.ts, ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r: onnxruntime finds, for each query row of one
 * chunk, the farthest row of another chunk with one matrix product (ArgMax of ‖r‖² − 2 q·r; ‖q‖² is the same
 * for the whole row, so it does not change the winner). Only chunk pairs (a, b) with b ≥ a are computed, so
 * every unordered pair is seen at least once (the diagonal chunk sees both orders). The winner's distance is
 * recomputed in float64 in JS, and the rows that could still hold the maximum are then re-checked exactly
 * against every other row.
 *
 * Error argument. Let N = max_i ‖x_i‖² (float64). The graph's score s_j = fl(fl(−2 q·r_j) + fl(‖r_j‖²)) differs
 * from t_j = ‖r_j‖² − 2 q·r_j by at most ε: the float32 dot product, in any summation order, is off by
 * ≤ γ_D Σ_k |q_k r_k| ≤ γ_D ‖q‖‖r‖ ≤ γ_D N (γ_D = D·u/(1 − D·u), u = 2⁻²⁴), doubled by alpha = −2 (exact);
 * rounding ‖r‖² to float32 costs ≤ u·N and the addition ≤ u·3N (one more rounding if onnxruntime fuses the
 * Add into the Gemm's C: ≤ u·3N again). So ε ≤ (2D + 7)·u·N·(1 + D·u); we use twice that. Per query row i and
 * reference chunk, the float32 winner j' therefore has exact d²(i, j') ≥ d²(i, j*) − 2ε for the chunk's true
 * farthest j*. Hence g(i), the best exact d² among row i's winners, is ≥ m(i) − 2ε, where m(i) is the true
 * maximum over the pairs row i was queried against. For the true maximal pair (i*, j*) (oriented so that i*
 * was the query), m(i*) = M, and G = max_i g(i) ≤ M, so g(i*) ≥ G − 2ε: every row with g(i) ≥ G − 2ε is a
 * candidate, and recomputing those rows against all rows in float64 returns M. Near-ties are few (a handful
 * of rows for Fashion-MNIST), so the exact re-check costs about one pass over the data per candidate.
 */
import { GraphBuilder } from '../onnx/graph.js';
import { OnnxSession } from '../onnx/session.js';
import { Tensor } from '../tensor.js';

export interface MaxPairwiseDistanceOptions {
  /** Rows per chunk on each side of the matrix product (default 2048). */
  chunkRows?: number;
  /** Called after each chunk pair, then once more after the exact re-check, with (done, total) chunk pairs. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface MaxPairwiseDistance {
  /** max ‖x_i − x_j‖ over i < j, computed in float64. */
  distance: number;
  /** The pair attaining it, i < j (the first one found on exact ties). */
  i: number;
  j: number;
  /** Rows re-checked exactly against every row (those whose float32 maximum was within the error bound). */
  candidates: number;
}

/** argmax_j (‖r_j‖² − 2 q·r_j) per query row: the farthest row, up to float32 rounding. */
function farthestGraph(dim: number): Uint8Array {
  const g = new GraphBuilder('farthest_row');
  const q = g.input('queries', 'float32', ['n', dim]); // (n, D)
  const r = g.input('reference', 'float32', ['m', dim]); // (m, D)
  const rr = g.input('reference_norms', 'float32', ['m']); // (m)
  const dots = g.op(
    'Gemm',
    [q, r],
    { transB: { type: 'int', value: 1 }, alpha: { type: 'float', value: -2 } },
    ['n', 'm'],
  ); // (n, m)
  const scores = g.add(dots, rr);
  const best = g.op(
    'ArgMax',
    [scores],
    { axis: { type: 'int', value: 1 }, keepdims: { type: 'int', value: 0 } },
    ['n'],
    'int64',
  );
  g.output(best, 'farthest');
  return g.toModelBytes();
}

function squaredDistance(x: Float32Array, i: number, j: number, dim: number): number {
  let s = 0;
  const a = i * dim;
  const b = j * dim;
  for (let k = 0; k < dim; k++) {
    const d = x[a + k] - x[b + k];
    s += d * d;
  }
  return s;
}

/**
 * The largest Euclidean distance between two rows of `images` (row-major float32, `dim` values a row) and
 * the pair attaining it. Exact up to float64 rounding (see the error argument above).
 */
export async function maxPairwiseDistance(
  images: Float32Array,
  dim: number,
  options: MaxPairwiseDistanceOptions = {},
): Promise<MaxPairwiseDistance> {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`maxPairwiseDistance: bad row length ${dim}`);
  const n = images.length / dim;
  if (!Number.isInteger(n))
    throw new RangeError(`maxPairwiseDistance: ${images.length} values are not whole rows of ${dim}`);
  if (n < 2) throw new RangeError(`maxPairwiseDistance: need at least 2 rows for a pair, got ${n}`);
  const chunkRows = options.chunkRows ?? 2048;
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new RangeError(`maxPairwiseDistance: bad chunkRows ${chunkRows}`);

  const norms64 = new Float64Array(n);
  let maxNorm = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += images[i * dim + k] ** 2;
    norms64[i] = s;
    if (s > maxNorm) maxNorm = s;
  }
  const norms = Float32Array.from(norms64);
  const u = 2 ** -24;
  const eps = 2 * (2 * dim + 7) * u * maxNorm * (1 + dim * u);

  // g(i): the best exact d² among row i's float32 winners, and where.
  const best = new Float64Array(n).fill(-1);
  const bestAt = new Int32Array(n).fill(-1);
  const chunks = Math.ceil(n / chunkRows);
  const total = (chunks * (chunks + 1)) / 2;
  let done = 0;
  const session = await OnnxSession.create(farthestGraph(dim));
  try {
    options.onProgress?.(0, total);
    for (let a = 0; a < chunks; a++) {
      const q0 = a * chunkRows;
      const q1 = Math.min(n, q0 + chunkRows);
      const queries = new Tensor('float32', images.subarray(q0 * dim, q1 * dim), [q1 - q0, dim]);
      for (let b = a; b < chunks; b++) {
        options.signal?.throwIfAborted();
        const r0 = b * chunkRows;
        const r1 = Math.min(n, r0 + chunkRows);
        const out = await session.run({
          queries,
          reference: new Tensor('float32', images.subarray(r0 * dim, r1 * dim), [r1 - r0, dim]),
          reference_norms: new Tensor('float32', norms.subarray(r0, r1), [r1 - r0]),
        });
        const far = out.get('farthest')!.data as BigInt64Array;
        for (let i = q0; i < q1; i++) {
          const j = r0 + Number(far[i - q0]);
          const d = squaredDistance(images, i, j, dim);
          if (d > best[i]) {
            best[i] = d;
            bestAt[i] = j;
          }
        }
        options.onProgress?.(++done, total);
      }
    }
  } finally {
    await session.release();
  }

  let G = -1;
  for (let i = 0; i < n; i++) if (best[i] > G) G = best[i];
  let M = -1;
  let pi = 0;
  let pj = 1;
  let candidates = 0;
  for (let i = 0; i < n; i++) {
    if (best[i] < G - 2 * eps) continue;
    candidates++;
    options.signal?.throwIfAborted();
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = squaredDistance(images, i, j, dim);
      if (d > M) {
        M = d;
        [pi, pj] = i < j ? [i, j] : [j, i];
      }
    }
  }
  options.onProgress?.(total, total);
  return { distance: Math.sqrt(M), i: pi, j: pj, candidates };
}
