/**
 * Sliced Wasserstein-2 distance between two sample sets: the root mean square over random unit
 * directions of the 1-D W2 distance between the projected samples (sorted quantile matching).
 * Directions come from a small seeded PRNG so the metric is reproducible and independent of any Generator.
 */
import { assertFloat32, type Tensor } from '../tensor.js';
import { checkInteger } from './common.js';

export interface SlicedWassersteinOptions {
  /** Number of random directions, default 256. */
  projections?: number;
  /** Seed of the directions, default 0. */
  seed?: number;
}

/** SW2(a, b) for a (n, ...dims) and b (m, ...dims); n and m may differ (quantiles are interpolated). */
export function slicedWasserstein(
  a: Tensor<'float32'>,
  b: Tensor<'float32'>,
  opts: SlicedWassersteinOptions = {},
): number {
  assertFloat32(a, 'a');
  assertFloat32(b, 'b');
  const n = a.dims[0];
  const m = b.dims[0];
  const d = a.numel / n;
  if (b.numel / m !== d)
    throw new RangeError(`slicedWasserstein: rows of a (${d} values) and b (${b.numel / m}) differ`);
  const projections = opts.projections ?? 256;
  checkInteger(projections, 'projections', 1);
  const pa = new Float64Array(n);
  const pb = new Float64Array(m);
  let total = 0;
  for (const dir of randomDirections(d, projections, opts.seed ?? 0)) {
    project(a.data, dir, pa);
    project(b.data, dir, pb);
    pa.sort();
    pb.sort();
    total += w2Squared1d(pa, pb);
  }
  return Math.sqrt(total / projections);
}

/** `count` random unit vectors in d dimensions (deterministic for a seed). */
export function randomDirections(d: number, count: number, seed: number): Float64Array[] {
  const rand = normalStream(seed);
  const out: Float64Array[] = [];
  for (let p = 0; p < count; p++) {
    const dir = new Float64Array(d);
    let norm = 0;
    for (let i = 0; i < d; i++) {
      dir[i] = rand();
      norm += dir[i] * dir[i];
    }
    norm = Math.sqrt(norm);
    for (let i = 0; i < d; i++) dir[i] /= norm;
    out.push(dir);
  }
  return out;
}

/** Projects each row of `data` (rows of dir.length values) onto `dir`. */
export function project(data: Float32Array, dir: Float64Array, out: Float64Array): void {
  const d = dir.length;
  for (let r = 0; r < out.length; r++) {
    let acc = 0;
    const off = r * d;
    for (let i = 0; i < d; i++) acc += data[off + i] * dir[i];
    out[r] = acc;
  }
}

/** ∫₀¹ (Fa⁻¹(q) − Fb⁻¹(q))² dq for sorted samples, evaluated at the midpoints of the finer grid. */
function w2Squared1d(a: Float64Array, b: Float64Array): number {
  if (a.length === b.length) {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
    return s / a.length;
  }
  const k = Math.max(a.length, b.length);
  let s = 0;
  for (let i = 0; i < k; i++) {
    const q = (i + 0.5) / k;
    s += (a[Math.floor(q * a.length)] - b[Math.floor(q * b.length)]) ** 2;
  }
  return s / k;
}

/** Standard normals from mulberry32 + Box–Muller (deterministic for a seed). */
function normalStream(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}
