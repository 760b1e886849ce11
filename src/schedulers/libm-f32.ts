/**
 * The two float32 transcendental functions ScoreSdeVeScheduler's tables go through, reproduced bit for bit:
 * - `torch.exp` on a float32 tensor (torch 1.13, AVX2): SLEEF's `expf` (u10), with fused multiply-adds;
 * - `float ** 0-d float32 tensor`: C `powf`, which on glibc ≥ 2.28 is the table-driven Arm
 *   optimized-routines algorithm (max error 0.82 ulp, so not simply `fround(Math.pow)`).
 * Plain `fround(Math.exp)` / `fround(Math.pow)` agree except for ~1 ulp on a few per cent / per mille of inputs.
 */
import { fmaF32, roundHalfEven } from '../math/float32.js';

// SLEEF's float32 constants, written as their exact float32 values.
/** float32(1/ln 2) */
const R_LN2F = 1.4426950216293335;
/** ln 2 = L2UF + L2LF, with L2UF short enough that q·L2UF is exact. */
const L2UF = 0.693145751953125;
const L2LF = 0.000001428606765330187;
const EXPF_POLY = [
  0.00019852761761285365, 0.0013930435525253415, 0.008333360776305199, 0.041666485369205475,
  0.1666666716337204, 0.5,
];

/** float32 e^d exactly as SLEEF's vectorised `expf` (u10, FMA build) computes it; `d` is a float32. */
export function sleefExpF32(d: number): number {
  // Reduce: d = q·ln2 + s, with ln2 split in two parts so q·L2U is exact.
  const q = roundHalfEven(Math.fround(d * R_LN2F));
  let s = fmaF32(q, -L2UF, d);
  s = fmaF32(q, -L2LF, s);
  let u = EXPF_POLY[0];
  for (let k = 1; k < EXPF_POLY.length; k++) u = fmaF32(u, s, EXPF_POLY[k]);
  u = Math.fround(1 + fmaF32(Math.fround(s * s), u, s));
  // vldexp2: two power-of-two multiplies, so q up to ±254 stays finite.
  const h = q >> 1;
  u = Math.fround(Math.fround(u * 2 ** h) * 2 ** (q - h));
  if (d < -104) return 0;
  if (d > 100) return Number.POSITIVE_INFINITY;
  return u;
}

// ---- glibc / Arm optimized-routines powf (POWF_LOG2_TABLE_BITS = 4, EXP2F_TABLE_BITS = 5, no TOINT intrinsics) ----

/** (1/c, log2 c) for the 16 sub-intervals of log2_inline. */
const POWF_LOG2_TAB: readonly (readonly [number, number])[] = (
  [
    ['0x1.661ec79f8f3bep0', '-0x1.efec65b963019p-2'],
    ['0x1.571ed4aaf883dp0', '-0x1.b0b6832d4fca4p-2'],
    ['0x1.49539f0f010bp0', '-0x1.7418b0a1fb77bp-2'],
    ['0x1.3c995b0b80385p0', '-0x1.39de91a6dcf7bp-2'],
    ['0x1.30d190c8864a5p0', '-0x1.01d9bf3f2b631p-2'],
    ['0x1.25e227b0b8eap0', '-0x1.97c1d1b3b7afp-3'],
    ['0x1.1bb4a4a1a343fp0', '-0x1.2f9e393af3c9fp-3'],
    ['0x1.12358f08ae5bap0', '-0x1.960cbbf788d5cp-4'],
    ['0x1.0953f419900a7p0', '-0x1.a6f9db6475fcep-5'],
    ['0x1p0', '0x0p0'],
    ['0x1.e608cfd9a47acp-1', '0x1.338ca9f24f53dp-4'],
    ['0x1.ca4b31f026aap-1', '0x1.476a9543891bap-3'],
    ['0x1.b2036576afce6p-1', '0x1.e840b4ac4e4d2p-3'],
    ['0x1.9c2d163a1aa2dp-1', '0x1.40645f0c6651cp-2'],
    ['0x1.886e6037841edp-1', '0x1.88e9c2c1b9ff8p-2'],
    ['0x1.767dcf5534862p-1', '0x1.ce0a44eb17bccp-2'],
  ] as const
).map(([a, b]) => [hexFloat(a), hexFloat(b)] as const);

const POWF_LOG2_POLY = [
  '0x1.27616c9496e0bp-2',
  '-0x1.71969a075c67ap-2',
  '0x1.ec70a6ca7baddp-2',
  '-0x1.7154748bef6c8p-1',
  '0x1.71547652ab82bp0',
].map(hexFloat);

/** exp2f_data.tab: bits of 2^(i/32) minus i << 47, so adding k << 47 also scales by 2^floor(k/32). */
const EXP2F_TAB_BITS = [
  0x3ff0000000000000n,
  0x3fefd9b0d3158574n,
  0x3fefb5586cf9890fn,
  0x3fef9301d0125b51n,
  0x3fef72b83c7d517bn,
  0x3fef54873168b9aan,
  0x3fef387a6e756238n,
  0x3fef1e9df51fdee1n,
  0x3fef06fe0a31b715n,
  0x3feef1a7373aa9cbn,
  0x3feedea64c123422n,
  0x3feece086061892dn,
  0x3feebfdad5362a27n,
  0x3feeb42b569d4f82n,
  0x3feeab07dd485429n,
  0x3feea47eb03a5585n,
  0x3feea09e667f3bcdn,
  0x3fee9f75e8ec5f74n,
  0x3feea11473eb0187n,
  0x3feea589994cce13n,
  0x3feeace5422aa0dbn,
  0x3feeb737b0cdc5e5n,
  0x3feec49182a3f090n,
  0x3feed503b23e255dn,
  0x3feee89f995ad3adn,
  0x3feeff76f2fb5e47n,
  0x3fef199bdd85529cn,
  0x3fef3720dcef9069n,
  0x3fef5818dcfba487n,
  0x3fef7c97337b9b5fn,
  0x3fefa4afa2a490dan,
  0x3fefd0765b6e4540n,
];
/** 2^(i/32) as the table encodes it. */
const EXP2F_POW2 = Float64Array.from(EXP2F_TAB_BITS, (bits, i) => {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, bits + (BigInt(i) << 47n));
  return dv.getFloat64(0);
});
const EXP2F_POLY = ['0x1.c6af84b912394p-5', '0x1.ebfce50fac4f3p-3', '0x1.62e42ff0c52d6p-1'].map(hexFloat);
const EXP2F_SHIFT = 0x18000000000000 / 32; // 0x1.8p52 / N: adding it rounds to a multiple of 1/32

/** Above this y·log2(x) the float result overflows. */
const POWF_OVERFLOW = hexFloat('0x1.fffffffd1d571p6');

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * float32 x^y as glibc's `powf` returns it, for float32 x > 0 (the scheduler only raises σmax/σmin > 0).
 * Negative x, zero and non-finite inputs fall back to `fround(Math.pow)`, whose special cases agree with C.
 */
export function glibcPowF32(x: number, y: number): number {
  if (!(x > 0) || !Number.isFinite(x) || !Number.isFinite(y) || y === 0 || x === 1) {
    return Math.fround(x ** y);
  }
  F32[0] = x;
  let ix = U32[0];
  if (ix < 0x00800000) {
    // Subnormal x: normalise so the exponent becomes negative.
    F32[0] = x * 2 ** 23;
    ix = (U32[0] - (23 << 23)) >>> 0;
  }
  const ylogx = Math.fround(y) * log2Inline(ix);
  if (ylogx > POWF_OVERFLOW) return Number.POSITIVE_INFINITY;
  if (ylogx <= -150) return 0;
  return exp2Inline(ylogx);
}

/** log2 of the float with bits `ix`, in double (glibc's log2_inline). */
function log2Inline(ix: number): number {
  const OFF = 0x3f330000;
  const tmp = (ix - OFF) >>> 0;
  const i = (tmp >>> 19) % 16;
  const top = (tmp & 0xff800000) >>> 0;
  const iz = (ix - top) >>> 0;
  const k = (top | 0) >> 23;
  const [invc, logc] = POWF_LOG2_TAB[i];
  U32[0] = iz;
  const z = F32[0];
  const A = POWF_LOG2_POLY;
  // log2(x) = log1p(z/c − 1)/ln2 + log2(c) + k
  const r = z * invc - 1;
  const y0 = logc + k;
  const r2 = r * r;
  let y = A[0] * r + A[1];
  const p = A[2] * r + A[3];
  const r4 = r2 * r2;
  let q = A[4] * r + y0;
  q = p * r2 + q;
  y = y * r4 + q;
  return y;
}

/** float32 2^xd for |xd| < 150 (glibc's exp2_inline without the sign bias). */
function exp2Inline(xd: number): number {
  // xd = k/32 + r, |r| ≤ 1/64
  const kd = xd + EXP2F_SHIFT - EXP2F_SHIFT;
  const k = kd * 32;
  const r = xd - kd;
  const i = ((k % 32) + 32) % 32;
  const s = EXP2F_POW2[i] * 2 ** ((k - i) / 32);
  const C = EXP2F_POLY;
  const z = C[0] * r + C[1];
  const r2 = r * r;
  let y = C[2] * r + 1;
  y = z * r2 + y;
  y = y * s;
  return Math.fround(y);
}

/** Parses a C hexadecimal float literal such as `-0x1.efec65b963019p-2` exactly. */
function hexFloat(lit: string): number {
  const m = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(lit);
  if (!m) throw new Error(`bad hex float literal ${lit}`);
  const frac = m[3] ?? '';
  const mant = BigInt(`0x${m[2]}${frac}`);
  const value = Number(mant) * 2 ** (Number(m[4]) - 4 * frac.length);
  return m[1] ? -value : value;
}
