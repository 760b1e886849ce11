/**
 * The float32 maths behind randn's >= 16 path: glibc logf / sinf / cosf ports on inputs where
 * Math.* rounded to float gives a different answer (reference bits from glibc 2.36 with FMA, via
 * tools/rng-exhaustive/, whose exhaustive-check.ts compares all 2^24 possible inputs), the fma
 * emulation on double-rounding traps, and hex float parsing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fma, fmaF32 as fmaf } from '../../src/math/float32.js';
import { log256, sincos256, sincosOut } from '../../src/random/avx-mathfun.js';
import { cosf, logf, sinf } from '../../src/random/glibc-mathf.js';
import { hexFloat } from '../../src/random/hex-float.js';

const f32 = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

// [input bits, glibc output bits] where Math.fround(Math.<fn>(input)) is 1 ulp off.
const GLIBC_HARD_CASES = {
  logf: [
    [0x3f7db443, 0xbc1398f0],
    [0x3f7cbccb, 0xbc5224c9],
    [0x3f7c9ddc, 0xbc59fa92],
    [0x3f7c0331, 0xbc809af5],
    [0x3f7b2aa8, 0xbc9c258f],
    [0x3f73121b, 0xbd544673],
  ],
  sinf: [
    [0x3e7c1005, 0x3e798658],
    [0x3ef16ef5, 0x3ee895bb],
    [0x3f2d1a6c, 0x3f2035d8],
    [0x3f332d50, 0x3f24e6f3],
    [0x3f36f91f, 0x3f27c99e],
    [0x4018397b, 0x3f30ef75],
  ],
  cosf: [
    [0x3f8a8ef9, 0x3ef03220],
    [0x3fb9a163, 0x3df64e7a],
    [0x3fe6cde6, 0xbe6bcdb4],
    [0x3feec6b1, 0xbe94aefd],
    [0x40069294, 0xbf01d603],
    [0x40099c06, 0xbf0c27be],
  ],
};
const PORTS = { logf, sinf, cosf };
const DOUBLE_MATH = { logf: Math.log, sinf: Math.sin, cosf: Math.cos };

describe('glibc float32 maths', () => {
  for (const fn of ['logf', 'sinf', 'cosf'] as const) {
    it(`${fn} matches glibc where Math.${fn.slice(0, 3)} rounded to float does not`, () => {
      for (const [inBits, outBits] of GLIBC_HARD_CASES[fn]) {
        const x = f32(inBits);
        assert.notEqual(bitsOf(DOUBLE_MATH[fn](x)), outBits, `hard case ${inBits.toString(16)} is not hard`);
        assert.equal(bitsOf(PORTS[fn](x)).toString(16), outBits.toString(16), `${fn}(${x})`);
      }
    });
  }

  it('exact special values', () => {
    assert.equal(logf(1), 0);
    assert.equal(logf(0), Number.NEGATIVE_INFINITY);
    assert.ok(Number.isNaN(logf(-1)));
    assert.equal(logf(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
    assert.equal(logf(f32(0x00000001)), Math.fround(Math.log(2 ** -149))); // smallest subnormal
    assert.equal(sinf(0), 0);
    assert.equal(cosf(0), 1);
    assert.equal(sinf(2 ** -13), 2 ** -13); // tiny: sin x = x in float
    assert.throws(() => sinf(200), RangeError);
  });
});

describe('avx_mathfun lanes', () => {
  it('log256 is exact at powers of two and close to log elsewhere', () => {
    assert.equal(log256(1), 0);
    assert.equal(log256(0.5), Math.fround(-0.693359375 + 2.1219444e-4)); // e·q2 + e·q1, e = -1
    for (const x of [0.3, 0.71, 0.999, 2 ** -24]) {
      const xf = Math.fround(x);
      assert.ok(
        Math.abs(log256(xf) - Math.log(xf)) <= 4e-7 * Math.max(1, Math.abs(Math.log(xf))),
        `log256(${xf})`,
      );
    }
  });

  it('sincos256 gives sin 0 = 0, cos 0 = 1 and is within 2e-7 of sin/cos over [0, 2π)', () => {
    sincos256(0);
    assert.deepEqual([...sincosOut], [0, 1]);
    for (let t = 0; t < 2 * Math.PI; t += 0.0371) {
      const tf = Math.fround(t);
      sincos256(tf);
      assert.ok(Math.abs(sincosOut[0] - Math.sin(tf)) < 2e-7, `sin ${tf}`);
      assert.ok(Math.abs(sincosOut[1] - Math.cos(tf)) < 2e-7, `cos ${tf}`);
    }
  });
});

describe('fma', () => {
  it('fmaf rounds once where a*b + c in double would round twice', () => {
    // exact value = (1 + 2^-23 + 2^-24) - 2^-54: just below a float midpoint; the double sum lands on
    // the midpoint and ties-to-even would round up
    const a = 1 + 2 ** -15;
    const b = (1 - 2 ** -15) * 2 ** -24;
    const c = 1 + 2 ** -23;
    assert.equal(Math.fround(a * b + c), 1 + 2 ** -22);
    assert.equal(fmaf(a, b, c), 1 + 2 ** -23);
    assert.equal(fmaf(-a, b, -c), -(1 + 2 ** -23));
    // exact value (1 + 2^-24) + 2^-54: just above a midpoint whose tie goes down
    const a2 = 1 + 2 ** -10;
    const b2 = (1 - 2 ** -10 + 2 ** -20) * 2 ** -24;
    assert.equal(Math.fround(a2 * b2 + 1), 1);
    assert.equal(fmaf(a2, b2, 1), 1 + 2 ** -23);
    // true ties stay ties-to-even
    assert.equal(fmaf(2 ** -24, 1, 1), 1);
    assert.equal(fmaf(3, 2 ** -24, 1), 1 + 2 ** -22);
  });

  it('double fma keeps the low half of the product', () => {
    assert.equal((1 + 2 ** -30) * (1 - 2 ** -30) - 1, 0);
    assert.equal(fma(1 + 2 ** -30, 1 - 2 ** -30, -1), -(2 ** -60));
    assert.equal(fma(3, 5, 7), 22);
    assert.equal(fma(0.1, 10, -1), 5.551115123125783e-17); // 0.1 is not exactly 1/10
  });
});

describe('hexFloat', () => {
  it('parses C hex float literals exactly', () => {
    assert.equal(hexFloat('0x1p+0'), 1);
    assert.equal(hexFloat('-0x1.8p-1'), -0.75);
    assert.equal(hexFloat('0x0p+0'), 0);
    assert.equal(hexFloat('0x1.921fb54442d18p+1'), Math.PI);
    assert.equal(hexFloat('0x1.62e42fefa39efp-1'), Math.LN2);
    assert.equal(hexFloat('0x1.fffffffffffffp+0'), 2 - 2 ** -52);
  });

  it('rejects malformed literals', () => {
    assert.throws(() => hexFloat('1.5'), SyntaxError);
    assert.throws(() => hexFloat('0x1.0'), SyntaxError);
    assert.throws(() => hexFloat('0x1.fffffffffffff8p+0'), RangeError);
  });
});
