/** Generator: seeding, uniform conversions, the cached normal, state save / restore, and bad input. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRandnPath } from '../../src/random/generator.js';
import { DEFAULT_SEED, Generator, type GeneratorState, MT19937, randn } from '../../src/random/index.js';

describe('seeding', () => {
  it("a fresh generator has torch's default seed 67280421310721", () => {
    const g = new Generator();
    assert.equal(g.initialSeed(), 67280421310721n);
    assert.equal(DEFAULT_SEED, 67280421310721n);
    const engine = new MT19937(Number(67280421310721n & 0xffffffffn));
    for (let i = 0; i < 10; i++) assert.equal(g.nextUint32(), engine.nextUint32());
  });

  it('manualSeed returns the generator, restarts the stream and accepts number or bigint', () => {
    const g = new Generator();
    assert.equal(g.manualSeed(7), g);
    const first = [g.nextUint32(), g.nextUint32()];
    g.manualSeed(7n);
    assert.deepEqual([g.nextUint32(), g.nextUint32()], first);
    assert.equal(g.initialSeed(), 7n);
    g.manualSeed((1n << 64n) - 1n);
    assert.equal(g.initialSeed(), (1n << 64n) - 1n);
  });

  it('manualSeed clears the cached normal', () => {
    const g = new Generator().manualSeed(42);
    const a = randn([1], { generator: g }).data[0];
    assert.equal(typeof g.getState().cachedNormal, 'number');
    g.manualSeed(42);
    assert.equal(g.getState().cachedNormal, null);
    assert.equal(randn([1], { generator: g }).data[0], a);
  });

  it('rejects bad seeds with a clear error', () => {
    const g = new Generator();
    for (const bad of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, -1n, 1n << 64n]) {
      assert.throws(() => g.manualSeed(bad), RangeError, `seed ${bad}`);
    }
    assert.throws(() => g.manualSeed(2 ** 53 + 2), /pass a bigint/);
    assert.throws(() => g.manualSeed('42' as unknown as number), TypeError);
    assert.throws(
      () => g.manualSeed(-1),
      /Generator\.manualSeed: seed must be a non-negative integer, got -1/,
    );
  });
});

describe('uniform draws', () => {
  it('nextFloat is the low 24 bits of one word times 2^-24', () => {
    const g = new Generator().manualSeed(5);
    const words = new Generator().manualSeed(5);
    for (let i = 0; i < 1000; i++) assert.equal(g.nextFloat(), (words.nextUint32() & 0xffffff) / 16777216);
  });

  it('nextDouble takes 53 bits of two words, the first drawn being the high one', () => {
    const g = new Generator().manualSeed(5);
    const words = new Generator().manualSeed(5);
    for (let i = 0; i < 1000; i++) {
      const hi = BigInt(words.nextUint32());
      const lo = BigInt(words.nextUint32());
      const bits53 = ((hi << 32n) | lo) & ((1n << 53n) - 1n);
      assert.equal(g.nextDouble(), Number(bits53) / 2 ** 53);
    }
  });

  it('nextNormal returns r·cos θ, then the cached r·sin θ without drawing', () => {
    const g = new Generator().manualSeed(9);
    const u = new Generator().manualSeed(9);
    const u1 = u.nextDouble();
    const u2 = u.nextDouble();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    assert.equal(g.nextNormal(), r * Math.cos(2 * Math.PI * u1));
    assert.equal(g.nextNormal(), r * Math.sin(2 * Math.PI * u1));
    assert.equal(g.nextUint32(), u.nextUint32());
  });
});

describe('getState / setState', () => {
  it('round-trips through JSON and reproduces the stream, cached normal included', () => {
    const g = new Generator({ path: 'avx2' }).manualSeed(123);
    randn([3, 5, 7], { generator: g });
    randn([3], { generator: g }); // leaves a cached normal
    const state = g.getState();
    assert.equal(typeof state.cachedNormal, 'number');
    const restored = new Generator({ path: 'avx2' }).setState(
      JSON.parse(JSON.stringify(state)) as GeneratorState,
    );
    assert.deepEqual(restored.getState(), state);
    assert.equal(restored.initialSeed(), 123n);
    for (const dims of [[1], [2], [40], [1, 3, 32, 32], [5]]) {
      assert.deepEqual(
        randn(dims, { generator: restored }).data,
        randn(dims, { generator: g }).data,
        `${dims}`,
      );
    }
  });

  it('restores mid-block positions (state index) exactly', () => {
    const g = new Generator().manualSeed(1);
    for (let i = 0; i < 1000; i++) g.nextUint32();
    const state = g.getState();
    assert.equal(state.index, 1000 - 624);
    const h = new Generator().setState(state);
    for (let i = 0; i < 700; i++) assert.equal(h.nextUint32(), g.nextUint32());
  });

  it('returns a copy', () => {
    const g = new Generator().manualSeed(1);
    const state = g.getState();
    state.mt[0] ^= 1;
    assert.notEqual(g.getState().mt[0], state.mt[0]);
  });

  it('validates the state and leaves the generator unchanged on error', () => {
    const g = new Generator().manualSeed(3);
    const good = g.getState();
    const cases: [Partial<GeneratorState> | null, RegExp][] = [
      [null, /state must be an object/],
      [{ mt: good.mt.slice(1) }, /state\.mt must be an array of 624 words/],
      [
        { mt: good.mt.map((w, i) => (i === 5 ? 2 ** 32 : w)) },
        /state\.mt\[5\] must be an integer in \[0, 2\^32\)/,
      ],
      [{ mt: good.mt.map((w, i) => (i === 7 ? 1.5 : w)) }, /state\.mt\[7\]/],
      [{ mt: good.mt.map(() => 0) }, /all zeros/],
      [{ index: 625 }, /state\.index must be an integer in \[0, 624\]/],
      [{ index: -1 }, /state\.index/],
      [{ cachedNormal: Number.NaN }, /state\.cachedNormal must be a finite number or null/],
      [{ seed: '-3' }, /state\.seed/],
      [{ seed: 3 as unknown as string }, /state\.seed/],
    ];
    for (const [patch, message] of cases) {
      const bad = patch === null ? null : { ...good, ...patch };
      assert.throws(() => g.setState(bad as GeneratorState), message);
    }
    assert.deepEqual(g.getState(), good);
  });
});

describe('path option', () => {
  it('rejects unknown paths', () => {
    assert.throws(
      () => new Generator({ path: 'sse' as 'avx2' }),
      /Generator: path must be 'avx2' or 'scalar', got "sse"/,
    );
    assert.throws(() => randn([16], { path: 'fast' as 'avx2' }), /randn: path must be/);
  });

  it("defaults to 'scalar' only under ATEN_CPU_CAPABILITY=default", () => {
    const saved = process.env.ATEN_CPU_CAPABILITY;
    try {
      process.env.ATEN_CPU_CAPABILITY = 'default';
      assert.equal(defaultRandnPath(), 'scalar');
      assert.equal(new Generator().path, 'scalar');
      process.env.ATEN_CPU_CAPABILITY = 'avx512';
      assert.equal(new Generator().path, 'avx2');
      delete process.env.ATEN_CPU_CAPABILITY;
      assert.equal(new Generator().path, 'avx2');
    } finally {
      if (saved === undefined) delete process.env.ATEN_CPU_CAPABILITY;
      else process.env.ATEN_CPU_CAPABILITY = saved;
    }
  });
});
