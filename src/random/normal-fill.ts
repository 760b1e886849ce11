/**
 * torch's `normal_fill` for float32 tensors of >= 16 elements: all slots are first filled with
 * uniform floats, then transformed in blocks of 16 by Box-Muller (slot j pairs with slot j + 8).
 * A tail that is not a whole block gets 16 fresh uniforms written over the last 16 slots, which
 * are transformed again. The two paths differ only in the log / sin / cos maths.
 */
import { log256, sincos256, sincosOut } from './avx-mathfun.js';
import type { Generator, RandnPath } from './generator.js';
import { cosf, logf, sinf } from './glibc-mathf.js';

const fround = Math.fround;
const TWO_PI = 2 * Math.PI;
const TWO_PI_F = fround(2 * Math.PI);

/** `normal_fill_16` (scalar build): glibc logf / cosf / sinf, θ = (float)(2π_double · u2). */
function normalFill16Scalar(d: Float32Array, i: number): void {
  for (let j = i; j < i + 8; j++) {
    const u1 = fround(1 - d[j]);
    const u2 = d[j + 8];
    const radius = fround(Math.sqrt(-2 * logf(u1)));
    const theta = fround(TWO_PI * u2);
    // `* std + mean` with std 1, mean 0: only turns -0 into +0
    d[j] = fround(radius * cosf(theta)) + 0;
    d[j + 8] = fround(radius * sinf(theta)) + 0;
  }
}

/** `normal_fill_16_AVX2`: one lane at a time of the 8-wide Cephes log / sincos, θ = float(2π) · u2. */
function normalFill16Avx2(d: Float32Array, i: number): void {
  for (let j = i; j < i + 8; j++) {
    const u1 = fround(1 - d[j]);
    const u2 = d[j + 8];
    const radius = fround(Math.sqrt(-2 * log256(u1)));
    sincos256(fround(TWO_PI_F * u2));
    // fmadd(n, std = 1, mean = 0) only turns -0 into +0
    d[j] = fround(radius * sincosOut[1]) + 0;
    d[j + 8] = fround(radius * sincosOut[0]) + 0;
  }
}

/** Fills `data` (length >= 16) with standard normals exactly as torch's CPU `normal_fill` does. */
export function normalFill(data: Float32Array, generator: Generator, path: RandnPath): void {
  const n = data.length;
  if (n < 16) throw new RangeError(`normalFill: needs at least 16 elements, got ${n}`);
  generator.fillFloats(data);
  const block = path === 'avx2' ? normalFill16Avx2 : normalFill16Scalar;
  for (let i = 0; i + 16 <= n; i += 16) block(data, i);
  if (n % 16 !== 0) {
    const tail = n - 16;
    generator.fillFloats(data, tail, n);
    block(data, tail);
  }
}
