/**
 * glibc 2.36's float32 `logf`, `sinf` and `cosf` (the Arm optimized-routines code in
 * sysdeps/ieee754/flt-32), as the x86-64 FMA variants glibc picks at run time on CPUs with FMA:
 * the same double-precision tables and polynomials, with every multiply-add that GCC contracts fused.
 * torch's scalar `normal_fill` (ATEN_CPU_CAPABILITY=default) calls these. They are not correctly
 * rounded, so `Math.log` / `Math.sin` / `Math.cos` rounded to float differ from them on rare inputs.
 * Only what that caller needs is handled: logf of a positive normal float, sinf/cosf for |x| < 120.
 */
import { fma } from '../math/float32.js';
import { hexFloat } from './hex-float.js';

const fround = Math.fround;

const bits = new Uint32Array(1);
const floats = new Float32Array(bits.buffer);

function asUint(x: number): number {
  floats[0] = x;
  return bits[0];
}

function asFloat(u: number): number {
  bits[0] = u;
  return floats[0];
}

// e_logf_data.c: 1/c and log(c) for 16 subintervals of [OFF, 2·OFF), ln2 and the log1p polynomial.
const LOGF_INVC = [
  '0x1.661ec79f8f3bep+0',
  '0x1.571ed4aaf883dp+0',
  '0x1.49539f0f010bp+0',
  '0x1.3c995b0b80385p+0',
  '0x1.30d190c8864a5p+0',
  '0x1.25e227b0b8eap+0',
  '0x1.1bb4a4a1a343fp+0',
  '0x1.12358f08ae5bap+0',
  '0x1.0953f419900a7p+0',
  '0x1p+0',
  '0x1.e608cfd9a47acp-1',
  '0x1.ca4b31f026aap-1',
  '0x1.b2036576afce6p-1',
  '0x1.9c2d163a1aa2dp-1',
  '0x1.886e6037841edp-1',
  '0x1.767dcf5534862p-1',
].map(hexFloat);
const LOGF_LOGC = [
  '-0x1.57bf7808caadep-2',
  '-0x1.2bef0a7c06ddbp-2',
  '-0x1.01eae7f513a67p-2',
  '-0x1.b31d8a68224e9p-3',
  '-0x1.6574f0ac07758p-3',
  '-0x1.1aa2bc79c81p-3',
  '-0x1.a4e76ce8c0e5ep-4',
  '-0x1.1973c5a611cccp-4',
  '-0x1.252f438e10c1ep-5',
  '0x0p+0',
  '0x1.aa5aa5df25984p-5',
  '0x1.c5e53aa362eb4p-4',
  '0x1.526e57720db08p-3',
  '0x1.bc2860d22477p-3',
  '0x1.1058bc8a07ee1p-2',
  '0x1.4043057b6ee09p-2',
].map(hexFloat);
const LOGF_LN2 = hexFloat('0x1.62e42fefa39efp-1');
const LOGF_A0 = hexFloat('-0x1.00ea348b88334p-2');
const LOGF_A1 = hexFloat('0x1.5575b0be00b6ap-2');
const LOGF_A2 = hexFloat('-0x1.ffffef20a4123p-2');
const LOGF_OFF = 0x3f330000;

/** glibc `logf` for a positive float32 (subnormals included); NaN / ±Infinity as C does. */
export function logf(x: number): number {
  let ix = asUint(x);
  if (ix === 0x3f800000) return 0;
  if ((ix - 0x00800000) >>> 0 >= 0x7f800000 - 0x00800000) {
    // x < 2^-126, or inf / nan / negative
    if (x === 0) return Number.NEGATIVE_INFINITY;
    if (x === Number.POSITIVE_INFINITY) return x;
    if (!(x > 0)) return Number.NaN;
    ix = asUint(fround(x * 0x800000)) - (23 << 23); // normalise a subnormal
  }
  // x = 2^k z, z in [OFF, 2·OFF) exact; i picks the subinterval whose centre c has 1/c = invc
  const tmp = (ix - LOGF_OFF) >>> 0;
  const i = (tmp >>> 19) & 15;
  const k = (tmp | 0) >> 23;
  const z = asFloat((ix - (tmp & 0xff800000)) >>> 0);
  const invc = LOGF_INVC[i];
  const logc = LOGF_LOGC[i];
  // log(x) = log1p(z/c - 1) + log(c) + k·ln2
  const r = fma(z, invc, -1);
  const y0 = fma(k, LOGF_LN2, logc);
  const r2 = r * r;
  let y = fma(LOGF_A1, r, LOGF_A2);
  y = fma(LOGF_A0, r2, y);
  y = fma(y, r2, y0 + r);
  return fround(y);
}

// sincosf_data.c: the cosine polynomial (c0..c4) and sine polynomial (s1..s3) for |x| <= π/4.
// The second row negates the cosine polynomial, which folds in the sign for quadrants 2 and 3.
const HPI_INV = hexFloat('0x1.45f306dc9c883p+23'); // 2/π · 2^24
const HPI = hexFloat('0x1.921fb54442d18p+0'); // π/2
const C0 = 1;
const C1 = hexFloat('-0x1.ffffffd0c621cp-2');
const C2 = hexFloat('0x1.55553e1068f19p-5');
const C3 = hexFloat('-0x1.6c087e89a359dp-10');
const C4 = hexFloat('0x1.99343027bf8c3p-16');
const S1 = hexFloat('-0x1.555545995a603p-3');
const S2 = hexFloat('0x1.1107605230bc4p-7');
const S3 = hexFloat('-0x1.994eb3774cf24p-13');
const QUADRANT_SIGN = [1, -1, -1, 1];

function abstop12(x: number): number {
  return (asUint(x) >>> 20) & 0x7ff;
}
const ABSTOP12_PIO4 = abstop12(hexFloat('0x1.921fb6p-1'));
const ABSTOP12_TINY = abstop12(2 ** -12);
const ABSTOP12_120 = abstop12(120);

/** `sinf_poly`: sine (n even) or cosine (n odd) of a reduced x, |x| <= π/4; `negCos` picks the 2nd row. */
function sinfPoly(x: number, x2: number, n: number, negCos: boolean): number {
  if ((n & 1) === 0) {
    const x3 = x * x2;
    const s1 = fma(x2, S3, S2);
    const x7 = x3 * x2;
    const s = fma(x3, S1, x);
    return fround(fma(x7, s1, s));
  }
  const sign = negCos ? -1 : 1;
  const x4 = x2 * x2;
  const c2 = fma(x2, sign * C4, sign * C3);
  const c1 = fma(x2, sign * C1, sign * C0);
  const x6 = x4 * x2;
  const c = fma(x4, sign * C2, c1);
  return fround(fma(x6, c2, c));
}

/** Quadrant of the last {@link reduceFast} call. */
let quadrant = 0;

/** `reduce_fast`: x - n·π/2 with n the nearest quadrant (stored in `quadrant`); good for |x| <= 120. */
function reduceFast(x: number): number {
  const r = x * HPI_INV;
  quadrant = ((r | 0) + 0x800000) >> 24;
  return fma(-quadrant, HPI, x);
}

function checkRange(y: number, name: string): void {
  if (!(abstop12(y) < ABSTOP12_120)) throw new RangeError(`${name}: |x| must be < 120, got ${y}`);
}

/** glibc `sinf` for a float32 |y| < 120. */
export function sinf(y: number): number {
  const top = abstop12(y);
  if (top < ABSTOP12_PIO4) {
    if (top < ABSTOP12_TINY) return y;
    return sinfPoly(y, y * y, 0, false);
  }
  checkRange(y, 'sinf');
  const x = reduceFast(y);
  const n = quadrant;
  return sinfPoly(x * QUADRANT_SIGN[n & 3], x * x, n, (n & 2) !== 0);
}

/** glibc `cosf` for a float32 |y| < 120. */
export function cosf(y: number): number {
  const top = abstop12(y);
  if (top < ABSTOP12_PIO4) {
    if (top < ABSTOP12_TINY) return 1;
    return sinfPoly(y, y * y, 1, false);
  }
  checkRange(y, 'cosf');
  const x = reduceFast(y);
  const n = quadrant;
  return sinfPoly(x * QUADRANT_SIGN[n & 3], x * x, n ^ 1, (n & 2) !== 0);
}
