/**
 * Nearest-neighbour distances in pixel space (L2), the memorisation check: generated images should be no
 * closer to their nearest training image than held-out test images are.
 *
 * ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r: onnxruntime finds each query's nearest reference row in a chunk with one
 * matrix product (60k × N × 784 is tens of GFLOP, too slow for a JavaScript loop); the winner's distance is
 * then recomputed exactly in float64, since the float32 expansion loses digits when q ≈ r, which is exactly
 * the case a memorisation check is about.
 */
import { GraphBuilder } from '../onnx/graph.js';
import { OnnxSession } from '../onnx/session.js';
import { Tensor } from '../tensor.js';

export interface NearestNeighbours {
  /** (N) Euclidean distance of each query to its nearest reference row. */
  distance: Float64Array;
  /** (N) index of that reference row. */
  index: Int32Array;
}

export interface NearestNeighbourOptions {
  /** Reference rows per matrix product (default 8192). */
  chunkRows?: number;
  /** Query rows per matrix product (default 1024). */
  queryRows?: number;
  /** Called after each reference chunk with the rows done so far (queries × reference rows). */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** argmin_j (‖r_j‖² − 2 q·r_j) per query row: the nearest row, up to float32 rounding. */
function nearestGraph(dim: number): Uint8Array {
  const g = new GraphBuilder('nearest_neighbour');
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
    'ArgMin',
    [scores],
    { axis: { type: 'int', value: 1 }, keepdims: { type: 'int', value: 0 } },
    ['n'],
    'int64',
  );
  g.output(best, 'nearest');
  return g.toModelBytes();
}

function squaredDistance(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) {
    const d = a[ai * dim + k] - b[bi * dim + k];
    s += d * d;
  }
  return s;
}

/**
 * For every row of `queries` (N, dim), the nearest row of `reference` (M, dim) and its exact distance.
 * Both are row-major float32 (images flattened, values in [0, 1]).
 */
export async function nearestNeighbours(
  queries: Float32Array,
  reference: Float32Array,
  dim: number,
  options: NearestNeighbourOptions = {},
): Promise<NearestNeighbours> {
  const n = queries.length / dim;
  const m = reference.length / dim;
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 1 || m < 1)
    throw new RangeError(`nearestNeighbours: need whole, non-empty rows of ${dim} values`);
  const chunkRows = options.chunkRows ?? 8192;
  const queryRows = options.queryRows ?? 1024;
  const distance = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const index = new Int32Array(n).fill(-1);
  const session = await OnnxSession.create(nearestGraph(dim));
  try {
    options.onProgress?.(0, m);
    for (let r0 = 0; r0 < m; r0 += chunkRows) {
      const r1 = Math.min(m, r0 + chunkRows);
      const ref = reference.subarray(r0 * dim, r1 * dim);
      const norms = new Float32Array(r1 - r0);
      for (let j = 0; j < norms.length; j++) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += ref[j * dim + k] ** 2;
        norms[j] = s;
      }
      for (let q0 = 0; q0 < n; q0 += queryRows) {
        options.signal?.throwIfAborted();
        const q1 = Math.min(n, q0 + queryRows);
        const out = await session.run({
          queries: new Tensor('float32', queries.subarray(q0 * dim, q1 * dim), [q1 - q0, dim]),
          reference: new Tensor('float32', ref, [r1 - r0, dim]),
          reference_norms: new Tensor('float32', norms, [r1 - r0]),
        });
        const best = out.get('nearest')!.data as BigInt64Array;
        for (let i = q0; i < q1; i++) {
          const j = r0 + Number(best[i - q0]);
          const d = squaredDistance(queries, i, reference, j, dim);
          if (d < distance[i]) {
            distance[i] = d;
            index[i] = j;
          }
        }
      }
      options.onProgress?.(r1, m);
    }
  } finally {
    await session.release();
  }
  for (let i = 0; i < n; i++) distance[i] = Math.sqrt(distance[i]);
  return { distance, index };
}

/** Summary of a set of distances for the report. */
export interface DistanceSummary {
  mean: number;
  median: number;
  /** 1st percentile: the closest few, where copies would show. */
  p01: number;
  min: number;
}

/** Mean, median, 1st percentile and minimum (nearest-rank percentiles: the median is the lower one). */
export function summariseDistances(d: ArrayLike<number>): DistanceSummary {
  if (d.length === 0) throw new RangeError('summariseDistances: no distances');
  const sorted = Float64Array.from(d).sort();
  const rank = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  let sum = 0;
  for (const x of sorted) sum += x;
  return { mean: sum / sorted.length, median: rank(0.5), p01: rank(0.01), min: sorted[0] };
}
