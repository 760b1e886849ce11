/**
 * Exact float32 arithmetic on JS numbers. `+ - * /` and `sqrt` done in double and rounded once with
 * `Math.fround` are already correctly rounded float32 ops; a fused multiply-add needs care (below).
 */

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/** The float32 next to `x` (a float32) in the direction of `toward`. */
function nextFloat32(x: number, toward: number): number {
  if (x === toward || Number.isNaN(x) || Number.isNaN(toward)) return x;
  if (x === 0) return toward > 0 ? 2 ** -149 : -(2 ** -149);
  F32[0] = x;
  // For a positive float the bits grow with the value; for a negative one they shrink.
  I32[0] += (toward > x) === (x > 0) ? 1 : -1;
  return F32[0];
}

/**
 * float32 fma(a, b, c) = round(a·b + c) with one rounding, for float32 inputs (what C `fmaf` and the
 * `vfmadd` instructions give). a·b is exact in double (24 + 24 bits); the sum is rounded to double and then to
 * float, which double-rounds wrongly only when the double lands exactly on a float midpoint: then the
 * error term of the double sum says which way the exact value lies.
 */
export function fmaF32(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = Math.fround(s);
  if (r === s || !Number.isFinite(s)) return r;
  // TwoSum: err = (p + c) - s exactly.
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  if (err === 0) return r;
  const other = nextFloat32(r, s);
  if (s - r !== other - s) return r; // not a midpoint: the double rounding was harmless
  return err > 0 === other > r ? other : r;
}

/** Rounds to the nearest integer, ties to even (what `cvtps2dq` / `rint` do in the default mode). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
