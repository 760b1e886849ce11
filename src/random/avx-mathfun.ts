/**
 * One lane of `log256_ps` / `sincos256_ps` from avx_mathfun.h (Cephes float32 polynomials), as torch's
 * AVX2 `normal_fill_16_AVX2` runs them: every operation rounded to float32, and exactly those
 * multiply-adds fused that GCC contracts into FMA instructions in torch 1.13's AVX2 build (the
 * contraction pattern is recorded in test/fixtures/randn/manifest.json → notes).
 * Only inputs this file is called with are handled: log of (0, 1], sincos of [0, 2π).
 */
import { fmaF32 as fmaf } from '../math/float32.js';

const fround = Math.fround;

const bits = new Uint32Array(1);
const floats = new Float32Array(bits.buffer);

const SQRTHF = fround(Math.SQRT1_2); // cephes_SQRTHF 0.707106781186547524
const LOG_P0 = fround(7.0376836292e-2);
const LOG_P1 = fround(-1.151461031e-1);
const LOG_P2 = fround(1.167699874e-1);
const LOG_P3 = fround(-1.2420140846e-1);
const LOG_P4 = fround(1.4249322787e-1);
const LOG_P5 = fround(-1.6668057665e-1);
const LOG_P6 = fround(2.0000714765e-1);
const LOG_P7 = fround(-2.4999993993e-1);
const LOG_P8 = fround(3.3333331174e-1);
const LOG_Q1 = fround(-2.1219444e-4);
const LOG_Q2 = fround(0.693359375);

/** Natural log of a float32 x in (0, 1] (normal range), as one lane of `log256_ps`. */
export function log256(x: number): number {
  floats[0] = x;
  const ix = bits[0];
  // x = m * 2^e with m in [0.5, 1)
  bits[0] = (ix & ~0x7f800000) | 0x3f000000;
  let m = floats[0];
  let e = (ix >>> 23) - 0x7f + 1;
  // if m < sqrt(1/2): e -= 1, m = 2m - 1, else m = m - 1 (both exact)
  const below = m < SQRTHF;
  const tmp = below ? m : 0;
  m = m - 1;
  if (below) e -= 1;
  m = fround(m + tmp);
  const z = fround(m * m);
  let y = LOG_P0;
  y = fmaf(y, m, LOG_P1);
  y = fmaf(y, m, LOG_P2);
  y = fmaf(y, m, LOG_P3);
  y = fmaf(y, m, LOG_P4);
  y = fmaf(y, m, LOG_P5);
  y = fmaf(y, m, LOG_P6);
  y = fmaf(y, m, LOG_P7);
  y = fmaf(y, m, LOG_P8);
  y = fround(y * m);
  y = fmaf(y, z, fround(e * LOG_Q1));
  y = fround(y - z * 0.5);
  return fround(fround(m + y) + fround(e * LOG_Q2));
}

const FOPI = fround(1.27323954473516); // 4 / π
const MINUS_DP1 = fround(-0.78515625);
const MINUS_DP2 = fround(-2.4187564849853516e-4);
const MINUS_DP3 = fround(-3.774894977445941e-8);
const COSCOF_P0 = fround(2.443315711809948e-5);
const COSCOF_P1 = fround(-1.388731625493765e-3);
const COSCOF_P2 = fround(4.166664568298827e-2);
const SINCOF_P0 = fround(-1.9515295891e-4);
const SINCOF_P1 = fround(8.3321608736e-3);
const SINCOF_P2 = fround(-1.6666654611e-1);

/** Outputs of {@link sincos256}: `[sin, cos]`, reused to avoid allocating per call. */
export const sincosOut = new Float64Array(2);

/** sin and cos of a float32 x in [0, 2π), as one lane of `sincos256_ps`; results in {@link sincosOut}. */
export function sincos256(x: number): void {
  // j = nearest even octant index at or above trunc(x * 4/π)
  const j = ((fround(x * FOPI) | 0) + 1) & ~1;
  const y = j; // small integer: exact as float
  const swapSignSin = (j & 4) !== 0;
  const sinUsesSinPoly = (j & 2) === 0;
  const negateCos = ((j - 2) & 4) === 0;
  // extended-precision reduction x - y·π/4, three separately rounded steps
  x = fround(x + fround(y * MINUS_DP1));
  x = fround(x + fround(y * MINUS_DP2));
  x = fround(x + fround(y * MINUS_DP3));
  const z = fround(x * x);

  let yc = fround(COSCOF_P0 * z);
  yc = fround(yc + COSCOF_P1);
  yc = fround(yc * z);
  yc = fround(yc + COSCOF_P2);
  yc = fround(yc * z);
  yc = fmaf(yc, z, -(z * 0.5));
  yc = fround(yc + 1);

  let ys = fmaf(fmaf(SINCOF_P0, z, SINCOF_P1), z, SINCOF_P2);
  ys = fround(ys * z);
  ys = fmaf(ys, x, x);

  const s = sinUsesSinPoly ? ys : yc;
  const c = sinUsesSinPoly ? yc : ys;
  sincosOut[0] = swapSignSin ? -s : s;
  sincosOut[1] = negateCos ? -c : c;
}
