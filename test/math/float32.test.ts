/**
 * The float32 building blocks: fmaF32 against exact rational arithmetic, and the emulated libm functions
 * against the correctly rounded result (within 1 ulp; their exactness against torch is in tables.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fmaF32, roundHalfEven } from '../../src/math/float32.js';
import { glibcPowF32, sleefExpF32 } from '../../src/schedulers/libm-f32.js';

/** Exact a·b + c rounded to float32 (ties to even), via BigInt rationals on a common power-of-two scale. */
function exactFmaF32(a: number, b: number, c: number): number {
  // A float32 is an integer multiple of 2^-149, so x·2^200 is an exact integer.
  const toBig = (x: number): bigint => BigInt(x * 2 ** 200);
  const exact = toBig(a) * toBig(b) + toBig(c) * 2n ** 200n; // scaled by 2^400
  // Round to float32: find the exponent, then round the 24-bit significand half-to-even.
  if (exact === 0n) return 0;
  const neg = exact < 0n;
  const mag = neg ? -exact : exact;
  const bits = mag.toString(2).length;
  const shift = BigInt(bits - 24);
  let sig = mag >> shift;
  const rem = mag - (sig << shift);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (sig & 1n) === 1n)) sig += 1n;
  const value = Number(sig) * 2 ** (Number(shift) - 400);
  return neg ? -value : value;
}

/** A deterministic float32 generator (xorshift) covering many exponents. */
function* floats(count: number, seed: number): Generator<number> {
  let s = seed >>> 0;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const mant = 1 + next() / 2 ** 32;
    const exp = (next() % 40) - 20;
    yield Math.fround((next() & 1 ? -1 : 1) * mant * 2 ** exp);
  }
}

describe('fmaF32', () => {
  it('equals the exactly rounded a·b + c on random float32 triples', () => {
    const xs = [...floats(6000, 12345)];
    for (let i = 0; i + 2 < xs.length; i += 3) {
      const [a, b, c] = [xs[i], xs[i + 1], xs[i + 2]];
      assert.equal(fmaF32(a, b, c), exactFmaF32(a, b, c), `fma(${a}, ${b}, ${c})`);
    }
  });

  it('gets the double-rounding case right (double sum lands exactly on a float32 midpoint)', () => {
    // a·b = 1 + 2^-11 + 2^-24 is a float32 midpoint; + 2^-60 puts the exact value just above it, but the double
    // sum drops the 2^-60, so fround(a·b + c) ties to even (down) while the true fma rounds up.
    const a = Math.fround(1 + 2 ** -12);
    const c = 2 ** -60;
    assert.equal(fmaF32(a, a, c), 1 + 2 ** -11 + 2 ** -23);
    assert.equal(exactFmaF32(a, a, c), 1 + 2 ** -11 + 2 ** -23);
    assert.equal(Math.fround(a * a + c), 1 + 2 ** -11, 'the naive emulation is wrong here');
    assert.equal(fmaF32(a, a, -c), 1 + 2 ** -11);
    assert.equal(fmaF32(-a, a, -c), -(1 + 2 ** -11 + 2 ** -23));
  });
});

describe('roundHalfEven', () => {
  it('rounds ties to even like rint', () => {
    assert.deepEqual(
      [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6].map(roundHalfEven),
      [-2, -2, -0, 0, 2, 2, 2, -3],
    );
  });
});

describe('emulated libm', () => {
  const ulp = (x: number) => {
    const e = Math.floor(Math.log2(Math.abs(x)));
    return 2 ** (e - 23);
  };
  it('sleefExpF32 is within 1 ulp of e^x over the scheduler range', () => {
    for (let x = -5; x <= 7.3; x += 0.0137) {
      const d = Math.fround(x);
      const want = Math.exp(d);
      assert.ok(Math.abs(sleefExpF32(d) - want) <= ulp(want), `exp(${d})`);
    }
    assert.equal(sleefExpF32(0), 1);
    assert.equal(sleefExpF32(200), Number.POSITIVE_INFINITY);
    assert.equal(sleefExpF32(-200), 0);
  });

  it('glibcPowF32 is within 1 ulp of x^y and handles the special cases', () => {
    for (const x of [134800, 10000, 100000, 34800, 2, 0.5, 1e-3]) {
      for (let y = -1; y <= 1; y += 0.00731) {
        const xf = Math.fround(x);
        const yf = Math.fround(y);
        const want = xf ** yf;
        assert.ok(Math.abs(glibcPowF32(xf, yf) - want) <= ulp(want), `pow(${xf}, ${yf})`);
      }
    }
    assert.equal(glibcPowF32(134800, 0), 1);
    assert.equal(glibcPowF32(1, 5), 1);
    assert.equal(glibcPowF32(134800, 1), 134800);
    assert.equal(glibcPowF32(2 ** -140, 0.5), Math.fround(2 ** -70)); // subnormal base
    assert.equal(glibcPowF32(1e30, 10), Number.POSITIVE_INFINITY);
    assert.equal(glibcPowF32(1e-30, 10), 0);
  });
});
