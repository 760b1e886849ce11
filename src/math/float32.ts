/**
 * Exact float32 arithmetic on JS numbers, shared by the torch-exact RNG and scheduler.
 * `+ - * /` and `sqrt` done in double and rounded once with `Math.fround` are already correctly
 * rounded float32 ops; a fused multiply-add (which torch's AVX2 kernels, GCC's contraction and glibc's
 * FMA builds use) needs care: JavaScript has none.
 */

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
  // s is a float32 midpoint iff the point mirrored through it, r + 2(s − r), is the neighbouring float32.
  const other = r + 2 * (s - r);
  if (Math.fround(other) !== other) return r;
  // TwoSum: err = (p + c) − s exactly; its sign says on which side of the midpoint the exact value lies.
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  if (err === 0) return r; // an exact tie: fround already rounded it to even
  return err > 0 === other > r ? other : r;
}

/** Rounds to the nearest integer, ties to even (what `cvtps2dq` / `rint` do in the default mode). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** 2^27 + 1: Veltkamp's constant that splits a double into two 26-bit halves. */
const SPLITTER = 134217729;

/**
 * double fma(a, b, c): a*b split exactly into p + e (Dekker), then p + c + e summed with one
 * compensated rounding. It can differ from a hardware fma in the last bit only in rare
 * double-rounding cases; where it is used (glibc's float32 logf/sinf/cosf, whose results are rounded
 * to float afterwards) it was checked against glibc on every input those callers can pass.
 */
export function fma(a: number, b: number, c: number): number {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const e = ah * bh - p + ah * bl + al * bh + al * bl; // p + e == a*b exactly
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb); // s + err == p + c exactly
  return s + (err + e);
}
