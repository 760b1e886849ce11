/** randn / rand / randnTensor: stream consumption, the global generator, list-of-generators semantics, bad dims. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { defaultGenerator, Generator, manualSeed, rand, randn, randnTensor } from '../../src/random/index.js';
import { assertBitEqual, RANDN_FIXTURES } from './fixture-helpers.js';

/** The word a generator will draw next, compared with a fresh stream of the same seed after `skip` words. */
function assertConsumed(g: Generator, seed: number, skip: number, what: string): void {
  const ref = new Generator().manualSeed(seed);
  for (let i = 0; i < skip; i++) ref.nextUint32();
  assert.equal(g.nextUint32(), ref.nextUint32(), `${what}: expected ${skip} words consumed`);
}

describe('stream consumption', () => {
  it('randn of n >= 16: n words, plus 16 more for a partial last block', () => {
    for (const [n, words] of [
      [16, 16],
      [17, 33],
      [32, 32],
      [40, 56],
      [3072, 3072],
    ]) {
      const g = new Generator().manualSeed(11);
      randn([n], { generator: g });
      assertConsumed(g, 11, words, `randn([${n}])`);
    }
  });

  it('randn of n < 16: one pair of uniform doubles (4 words) per two normals, the odd one cached', () => {
    const g = new Generator().manualSeed(11);
    randn([5], { generator: g });
    assert.notEqual(g.getState().cachedNormal, null);
    assertConsumed(g, 11, 12, 'randn([5])');
    const h = new Generator().manualSeed(11);
    randn([5], { generator: h });
    randn([1], { generator: h }); // served from the cache: no words
    assertConsumed(h, 11, 12, 'randn([5]) then randn([1])');
  });

  it('the >= 16 path neither uses nor clears the cached normal', () => {
    const g = new Generator().manualSeed(2);
    randn([1], { generator: g });
    const cached = g.getState().cachedNormal;
    randn([16], { generator: g });
    assert.equal(g.getState().cachedNormal, cached);
    assert.equal(randn([1], { generator: g }).data[0], Math.fround(cached!));
  });

  it('empty shapes draw nothing; a 0-d shape draws one element', () => {
    const g = new Generator().manualSeed(4);
    const empty = randn([2, 0, 3], { generator: g });
    assert.deepEqual(empty.dims, [2, 0, 3]);
    assert.equal(empty.numel, 0);
    assert.equal(rand([0], { generator: g }).numel, 0);
    assertConsumed(g, 4, 0, 'empty draws');
    const scalar = randn([], { generator: new Generator().manualSeed(4) });
    assert.deepEqual(scalar.dims, []);
    assert.equal(scalar.data[0], randn([1], { generator: new Generator().manualSeed(4) }).data[0]);
  });

  it('rand is one word per element, (u32 & 0xFFFFFF) · 2^-24', () => {
    const out = rand([4, 25], { generator: new Generator().manualSeed(8) });
    const words = new Generator().manualSeed(8);
    assert.deepEqual(out.dims, [4, 25]);
    for (const v of out.data) assert.equal(v, (words.nextUint32() & 0xffffff) * 2 ** -24);
  });
});

describe('the global generator', () => {
  it('manualSeed seeds and returns defaultGenerator, which calls without a generator use', () => {
    assert.equal(manualSeed(99), defaultGenerator);
    assert.equal(defaultGenerator.initialSeed(), 99n);
    const viaGlobal = randn([2, 3, 8, 8]);
    const viaOwn = randn([2, 3, 8, 8], {
      generator: new Generator({ path: defaultGenerator.path }).manualSeed(99),
    });
    assert.deepEqual(viaGlobal.data, viaOwn.data);
  });
});

describe('randnTensor', async () => {
  const ref = (await loadSafetensors(join(RANDN_FIXTURES, 'randn_avx2.safetensors'))).tensors;

  it('with one generator is randn of the whole shape', () => {
    const a = randnTensor([2, 3, 8, 8], { generator: new Generator({ path: 'avx2' }).manualSeed(0) });
    assertBitEqual(a, ref.get('randn_seed0_2x3x8x8')!, 'randnTensor, one generator');
  });

  it('with a list draws row i from generator i with shape (1, ...rest)', () => {
    const gens = [0, 1].map((s) => new Generator({ path: 'avx2' }).manualSeed(s));
    const out = randnTensor([2, 3, 32, 32], { generator: gens });
    assert.deepEqual(out.dims, [2, 3, 32, 32]);
    const rowSize = 3 * 32 * 32;
    for (const [i, seed] of [0, 1].entries()) {
      const row = out.data.subarray(i * rowSize, (i + 1) * rowSize);
      const expected = ref.get(`randn_seed${seed}_1x3x32x32`)!;
      assert.deepEqual(
        row,
        expected.data,
        `row ${i} = torch.randn((1,3,32,32), generator=manual_seed(${seed}))`,
      );
    }
  });

  it('with a one-element list and batch 1 equals one generator', () => {
    const a = randnTensor([1, 3, 8, 8], { generator: [new Generator().manualSeed(5)] });
    const b = randnTensor([1, 3, 8, 8], { generator: new Generator().manualSeed(5) });
    assert.deepEqual(a.data, b.data);
  });

  it('rejects a list whose length is not the batch size, and non-generators', () => {
    const g = () => new Generator();
    assert.throws(
      () => randnTensor([3, 3, 8, 8], { generator: [g(), g()] }),
      /randnTensor: got 2 generators for a batch of 3 \(dims\[0\]\)/,
    );
    assert.throws(() => randnTensor([1, 4], { generator: [g(), g()] }), RangeError);
    assert.throws(() => randnTensor([], { generator: [g()] }), /needs dims with a batch dimension/);
    const first = new Generator().manualSeed(6);
    assert.throws(
      () => randnTensor([2, 4], { generator: [first, {} as Generator] }),
      /randnTensor: generator\[1\] must be a Generator/,
    );
    assertConsumed(first, 6, 0, 'a rejected list draws nothing');
  });
});

describe('bad dims', () => {
  for (const [fn, draw] of [
    ['randn', randn],
    ['rand', rand],
    ['randnTensor', randnTensor],
  ] as const) {
    it(`${fn} names the problem`, () => {
      for (const dims of [[-1], [2, 1.5], [Number.NaN], [Number.POSITIVE_INFINITY], ['3']]) {
        assert.throws(
          () => draw(dims as number[]),
          new RegExp(`${fn}: dims must be non-negative integers`),
          `${dims}`,
        );
      }
      assert.throws(() => draw(3 as unknown as number[]), new RegExp(`${fn}: dims must be an array`));
      assert.throws(
        () => draw([65536, 65536]),
        new RegExp(`${fn}: shape \\[65536, 65536\\] has 4294967296 elements`),
      );
      assert.throws(() => draw([2], { generator: {} as Generator }), /generator must be a Generator/);
    });
  }
});

/** Inverse of mt19937's tempering: the state word that makes nextUint32 return `out`. */
function untemper(out: number): number {
  let y = out >>> 0;
  y = (y ^ (y >>> 18)) >>> 0;
  y = (y ^ ((y << 15) & 0xefc60000)) >>> 0;
  let r = y;
  for (let i = 0; i < 4; i++) r = (y ^ ((r << 7) & 0x9d2c5680)) >>> 0;
  y = r;
  r = y;
  for (let i = 0; i < 2; i++) r = (y ^ (r >>> 11)) >>> 0;
  return r;
}

/** A generator whose next words are `words` (at most 624), set through setState. */
function generatorDrawing(words: number[], path: 'avx2' | 'scalar' = 'avx2'): Generator {
  const g = new Generator({ path }).manualSeed(1);
  const state = g.getState();
  const index = 624 - words.length;
  words.forEach((w, i) => {
    state.mt[index + i] = untemper(w);
  });
  return g.setState({ ...state, index });
}

describe('a uniform of exactly 0 (radius -0) gives +0, as x · std + mean does in torch', () => {
  it('the crafted state really draws the chosen words', () => {
    const words = [0, 1, 0xffffffff, 0x12345678, 0x80000000];
    const g = generatorDrawing(words);
    assert.deepEqual(
      words.map(() => g.nextUint32()),
      words,
    );
  });

  it('n < 16: u2 = 0 makes r = -0; both normals of the pair are +0', () => {
    const out = randn([2], { generator: generatorDrawing([0x00000123, 0x456789ab, 0xffe00000, 0]) });
    assert.ok(
      Object.is(out.data[0], 0) && Object.is(out.data[1], 0),
      `got ${[...out.data].map((v) => (Object.is(v, -0) ? '-0' : v))}`,
    );
  });

  for (const path of ['avx2', 'scalar'] as const) {
    it(`n >= 16 (${path}): a first uniform of 0 gives +0 in slots 0 and 8`, () => {
      // slot 0: u = 0 (u1 = 1, radius -0); slot 8: u2 ≈ 0.1, so cos θ and sin θ are both > 0
      const words = Array.from({ length: 16 }, (_, i) =>
        i === 0 ? 0x7f000000 : i === 8 ? 0x00199999 : 0x00123457 * (i + 1),
      );
      const out = randn([16], { generator: generatorDrawing(words, path) }).data;
      assert.ok(Object.is(out[0], 0), `slot 0 is ${Object.is(out[0], -0) ? '-0' : out[0]}`);
      assert.ok(Object.is(out[8], 0), `slot 8 is ${Object.is(out[8], -0) ? '-0' : out[8]}`);
      assert.ok(out[1] !== 0 && out[9] !== 0);
    });
  }
});
