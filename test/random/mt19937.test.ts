/** mt19937 words: torch's first 32 words per seed (test/fixtures/randn/mt19937_raw.safetensors) and the C++ standard's check value. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { Generator, MT19937 } from '../../src/random/index.js';
import { RANDN_FIXTURES } from './fixture-helpers.js';

describe('mt19937', async () => {
  const raw = (await loadSafetensors(join(RANDN_FIXTURES, 'mt19937_raw.safetensors'))).tensors;

  it('has one reference stream per seed', () => {
    assert.deepEqual(
      [...raw.keys()].sort(),
      [0, 1, 42, 12345].map((s) => `mt19937_u32_seed${s}_first32`).sort(),
    );
  });

  for (const seed of [0, 1, 42, 12345]) {
    it(`seed ${seed}: first 32 words`, () => {
      const ref = [...(raw.get(`mt19937_u32_seed${seed}_first32`)!.data as BigInt64Array)].map(Number);
      const viaGenerator = new Generator().manualSeed(seed);
      assert.deepEqual(
        ref.map(() => viaGenerator.nextUint32()),
        ref,
      );
      const engine = new MT19937(seed);
      assert.deepEqual(
        ref.map(() => engine.nextUint32()),
        ref,
      );
    });
  }

  it('the 10000th word of the default seed 5489 is 4123659995 (C++ [rand.predef])', () => {
    const engine = new MT19937();
    let w = 0;
    for (let i = 0; i < 10000; i++) w = engine.nextUint32();
    assert.equal(w, 4123659995);
  });

  it('a seed uses only its low 32 bits for the stream, as init_genrand(seed & 0xffffffff)', () => {
    const big = new Generator().manualSeed((1n << 32n) + 42n);
    const small = new Generator().manualSeed(42);
    for (let i = 0; i < 700; i++) assert.equal(big.nextUint32(), small.nextUint32());
    assert.equal(big.initialSeed(), (1n << 32n) + 42n);
  });
});
