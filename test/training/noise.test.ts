/** score_sde's per-batch draws (t, z, σ) against torch 1.13 (optimizer-exact.safetensors, noise* groups). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { Generator } from '../../src/random/index.js';
import { drawNoise } from '../../src/training/noise.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/training/optimizer-exact.safetensors', import.meta.url));

/** Distance in float32 units in the last place. */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  return Math.abs(i[0] - i[1]);
}

test('t = rand·(1 − 1e-5) + 1e-5 and z = randn follow torch exactly; σ within 1 ulp of torch', async () => {
  const t = (await loadSafetensors(FIXTURE)).tensors;
  const g = new Generator().manualSeed(7);
  const shapes = [
    [3, 1, 8, 8],
    [2, 3, 4, 4],
    [5, 1, 2, 2],
  ] as const;
  shapes.forEach((shape, k) => {
    const d = drawNoise(g, shape, 0.01, 50);
    assert.deepEqual([...d.t], [...(t.get(`noise${k}/t`)!.data as Float32Array)], `draw ${k} t`);
    assert.deepEqual([...d.z], [...(t.get(`noise${k}/z`)!.data as Float32Array)], `draw ${k} z`);
    const sigma = t.get(`noise${k}/sigma`)!.data as Float32Array;
    for (const [i, s] of d.sigma.entries())
      assert.ok(ulps(s, sigma[i]) <= 1, `draw ${k} σ[${i}] ${s} vs ${sigma[i]}`);
  });
});
