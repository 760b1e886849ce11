/**
 * Every tensor of test/fixtures/randn/randn_{avx2,scalar}.safetensors (torch 1.13 on CPU), replayed
 * call by call as manifest.json describes, compared bit for bit with the matching randn path.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { Generator, manualSeed, type RandnPath, rand, randn } from '../../src/random/index.js';
import type { Tensor } from '../../src/tensor.js';
import { assertBitEqual, RANDN_FIXTURES } from './fixture-helpers.js';

const SEEDS = [0, 1, 42, 12345];
const SHAPES = [[1], [7], [15], [16], [17], [33], [1, 3, 32, 32], [2, 3, 8, 8]];
const SEQ_SHAPES = [
  [1, 3, 32, 32],
  [1, 3, 32, 32],
  [1, 3, 32, 32],
  [5],
  [3],
  [2, 3, 8, 8],
  [1],
  [1],
  [16],
  [1],
  [17],
  [40],
];
const SMALLSEQ_SHAPES = [[1], [1], [3], [16], [1], [2], [7]];
const name = (dims: number[]) => dims.join('x');
const pad2 = (i: number) => String(i).padStart(2, '0');

/** Replays the manifest's calls in order with the given randn path; returns tensors by fixture key. */
function replay(path: RandnPath): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const fresh = (seed: number) => new Generator({ path }).manualSeed(seed);
  for (const seed of SEEDS) {
    for (const dims of SHAPES) {
      out.set(`randn_seed${seed}_${name(dims)}`, randn(dims, { generator: fresh(seed) }));
    }
  }
  let g = fresh(0);
  for (const [i, dims] of SEQ_SHAPES.entries()) {
    out.set(`seq_seed0_call${pad2(i)}_${name(dims)}`, randn(dims, { generator: g }));
  }
  g = fresh(42);
  for (const [i, dims] of SMALLSEQ_SHAPES.entries()) {
    out.set(`smallseq_seed42_call${pad2(i)}_${name(dims)}`, randn(dims, { generator: g }));
  }
  // the global generator: torch.manual_seed returns it, and calls without a generator use it
  const global = manualSeed(0);
  out.set('global_seed0_call0_7', randn([7], { path }));
  out.set('global_seed0_call1_2x3x8x8', randn([2, 3, 8, 8], { path }));
  out.set(
    'global_seed0_call2_1x3x32x32_via_returned_generator',
    randn([1, 3, 32, 32], { generator: global, path }),
  );
  manualSeed(12345);
  out.set('global_seed12345_1x3x32x32', randn([1, 3, 32, 32], { path }));
  for (const seed of [0, 42]) {
    out.set(`rand_seed${seed}_7`, rand([7], { generator: fresh(seed) }));
    out.set(`rand_seed${seed}_4x3x8x8`, rand([4, 3, 8, 8], { generator: fresh(seed) }));
  }
  manualSeed(0);
  out.set('global_rand_seed0_4x3x8x8', rand([4, 3, 8, 8]));
  g = fresh(1);
  out.set('mixed_seed1_call0_rand_5', rand([5], { generator: g }));
  out.set('mixed_seed1_call1_randn_20', randn([20], { generator: g }));
  out.set('mixed_seed1_call2_rand_3', rand([3], { generator: g }));
  return out;
}

const manifest = JSON.parse(readFileSync(join(RANDN_FIXTURES, 'manifest.json'), 'utf8')) as {
  files: { file: string; calls?: Record<string, string> }[];
};

for (const path of ['avx2', 'scalar'] as const) {
  describe(`randn_${path}.safetensors`, async () => {
    const file = `randn_${path}.safetensors`;
    const ref = (await loadSafetensors(join(RANDN_FIXTURES, file))).tensors;
    const ours = replay(path);

    it('the replay covers exactly the keys of the file and of the manifest', () => {
      assert.deepEqual([...ours.keys()].sort(), [...ref.keys()].sort());
      const calls = manifest.files.find((f) => f.file === 'randn_avx2.safetensors')?.calls;
      assert.ok(calls, 'manifest lists the calls');
      assert.deepEqual(Object.keys(calls).sort(), [...ref.keys()].sort());
    });

    for (const key of [...ref.keys()].sort()) {
      it(key, () => {
        const mine = ours.get(key);
        assert.ok(mine, `no replay for ${key}`);
        assertBitEqual(mine, ref.get(key)!, key);
      });
    }
  });
}

describe('the two paths', () => {
  it('differ on >= 16 elements (so each file really tests its own maths)', () => {
    const a = randn([1, 3, 32, 32], { generator: new Generator({ path: 'avx2' }).manualSeed(0) }).data;
    const s = randn([1, 3, 32, 32], { generator: new Generator({ path: 'scalar' }).manualSeed(0) }).data;
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== s[i]) differ++;
    assert.ok(differ > a.length / 10, `only ${differ} of ${a.length} differ`);
  });

  it('a path option overrides the generator path', () => {
    const viaOption = randn([33], {
      generator: new Generator({ path: 'avx2' }).manualSeed(3),
      path: 'scalar',
    });
    const viaGenerator = randn([33], { generator: new Generator({ path: 'scalar' }).manualSeed(3) });
    assert.deepEqual(viaOption.data, viaGenerator.data);
  });
});
