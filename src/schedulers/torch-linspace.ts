/**
 * torch.linspace(start, end, n) in float32, bit-exact with torch 1.13's CPU kernel on its AVX2 dispatch.
 */
import { fmaF32 } from '../math/float32.js';

/** Lanes of torch's `Vectorized<float>` on AVX2. */
const VEC = 8;

/**
 * torch.linspace(start, end, n) as float32 (start and end are first rounded to float32, as torch does).
 *
 * Not `start + i·step`: with `step = (end − start) / (n − 1)` in float32, the first half counts up from `start`
 * (`fma(step, i, start)`) and the second half counts down from `end` (`fma(−step, n−1−i, end)`), so both ends are
 * exact. Outputs of 16 or more elements are written 8 at a time: each vector takes its base from the formula at its
 * first index (even when the vector straddles the halfway point) and fills lane k with `base + k·step`, unfused;
 * the last `n mod 16` elements go back to the per-element formula.
 */
export function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`torchLinspaceF32: n must be an integer ≥ 0, got ${n}`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) {
    throw new RangeError(`torchLinspaceF32: start and end must be finite, got ${start} and ${end}`);
  }
  const out = new Float32Array(n);
  const s = Math.fround(start);
  const e = Math.fround(end);
  if (n === 0) return out;
  if (n === 1) {
    out[0] = s;
    return out;
  }
  const step = Math.fround(Math.fround(e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  const scalarAt = (i: number): number => (i < halfway ? fmaF32(step, i, s) : fmaF32(-step, n - 1 - i, e));
  // torch's vectorized_loop writes pairs of 8-lane vectors while 16 elements remain.
  const vectorEnd = n - (n % (2 * VEC));
  let i = 0;
  for (; i < vectorEnd; i += VEC) {
    const base = scalarAt(i);
    out[i] = base;
    for (let k = 1; k < VEC; k++) out[i + k] = base + Math.fround(k * step);
  }
  for (; i < n; i++) out[i] = scalarAt(i);
  return out;
}
