/**
 * Fused multiply-add, which JavaScript lacks. torch's AVX2 kernels and glibc's FMA builds of
 * logf/sinf/cosf fuse `a*b + c` with a single rounding; emulating that is what makes them bit-exact.
 */

const fround = Math.fround;

/**
 * float32 fma(a, b, c) for float32 operands, correctly rounded.
 * a*b is exact in double (24 + 24 bits < 53), so only the sum is rounded twice (to double, then
 * to float). That double rounding differs from a single rounding only when the double sum lands
 * exactly on a float midpoint; then the exact rounding error of the sum decides the direction.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const r = fround(s);
  if (r === s) return r;
  // The float on the other side of s; it is a float only if s is exactly halfway between them.
  const other = 2 * s - r;
  if (fround(other) !== other) return r;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb); // TwoSum: s + err == p + c exactly
  if (err === 0) return r; // a true tie: fround already rounded it to even
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
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
