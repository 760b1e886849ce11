/**
 * Exhaustive check of the float32 maths behind randn's >= 16 path, for every uniform float torch can
 * draw (2^24 values), against tools/rng-exhaustive/libm-oracle.c run on an x86-64 glibc 2.36 machine with FMA.
 * Not part of the test suite (it needs gcc and 400 MB of scratch); run by hand:
 *   gcc -O2 -mfma -ffp-contract=off -fno-builtin tools/rng-exhaustive/libm-oracle.c -lm -o /tmp/libm-oracle
 *   mkdir -p /tmp/libm-oracle-out && /tmp/libm-oracle /tmp/libm-oracle-out
 *   node --import tsx tools/rng-exhaustive/exhaustive-check.ts /tmp/libm-oracle-out
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { log256, sincos256, sincosOut } from '../../src/random/avx-mathfun.js';
import { cosf, logf, sinf } from '../../src/random/glibc-mathf.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: exhaustive-check.ts ORACLE_DIR');
  process.exit(2);
}
const N = 1 << 24;
const load = (name: string) => {
  const b = readFileSync(join(dir, `${name}.f32`));
  return new Float32Array(b.buffer, b.byteOffset, N);
};
const names = ['logf', 'sinf', 'cosf', 'log256', 'sin256', 'cos256'] as const;
const ref = Object.fromEntries(names.map((n) => [n, load(n)])) as Record<
  (typeof names)[number],
  Float32Array
>;
const bad = Object.fromEntries(names.map((n) => [n, 0])) as Record<(typeof names)[number], number>;
const examples: string[] = [];
const fround = Math.fround;
const TWO_PI_F = fround(2 * Math.PI);
const check = (name: (typeof names)[number], k: number, got: number) => {
  if (!Object.is(fround(got), ref[name][k])) {
    bad[name]++;
    if (examples.length < 20) examples.push(`${name} k=${k}: got ${fround(got)}, want ${ref[name][k]}`);
  }
};
for (let k = 0; k < N; k++) {
  const u = k * 2 ** -24;
  const u1 = fround(1 - u);
  const theta = fround(2 * Math.PI * u);
  check('logf', k, logf(u1));
  check('sinf', k, sinf(theta));
  check('cosf', k, cosf(theta));
  check('log256', k, log256(u1));
  sincos256(fround(TWO_PI_F * u));
  check('sin256', k, sincosOut[0]);
  check('cos256', k, sincosOut[1]);
}
console.log(`checked ${N} inputs per function; mismatches:`, bad);
for (const e of examples) console.log(e);
process.exit(Object.values(bad).some((v) => v > 0) ? 1 : 0);
