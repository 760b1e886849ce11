/**
 * The samplers end to end on the fixture UNet checkpoints: the default PC sampler against diffusers' stored
 * pipeline runs (FIXTURES-README pipeline/: unclamped final sample, rel 1e-5 for ≤ 10 steps), and every other
 * sampler running on a real network (shapes, NFE, finite output).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { Generator } from '../../src/random/index.js';
import { inpaint, runSampler, SAMPLER_NAMES } from '../../src/samplers/registry.js';
import type { ScoreFn } from '../../src/samplers/types.js';
import { type Tensor, tensor } from '../../src/tensor.js';

const fixture = (rel: string) => fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url));

/** max|a − b| / max|ref| (FIXTURES-README's rel). */
function rel(actual: Tensor, ref: Tensor): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.numel; i++) {
    diff = Math.max(diff, Math.abs(Number(actual.data[i]) - Number(ref.data[i])));
    scale = Math.max(scale, Math.abs(Number(ref.data[i])));
  }
  return diff / scale;
}

let unet: UNet2DModel;
let score: ScoreFn;
before(async () => {
  unet = await UNet2DModel.fromPretrained(fixture('models/tiny-ncsnpp'));
  score = async (x, sigma) => (await unet.forward(x, sigma)).sample;
});
after(async () => {
  await unet.release();
});

describe('samplers on the tiny-ncsnpp checkpoint', () => {
  for (const [run, batch, seed] of [
    ['tiny-ncsnpp_N10_b1_generator0', 1, 0],
    ['tiny-ncsnpp_N10_b2_manualseed1', 2, 1],
  ] as const) {
    it(`'pc' (default) reproduces diffusers' ${run}`, async () => {
      const ref = (await loadSafetensors(fixture(`pipeline/${run}.safetensors`))).tensors;
      const r = await runSampler(
        'pc',
        score,
        { shape: [batch, 3, 32, 32], steps: 10 },
        { generator: new Generator().manualSeed(seed) },
      );
      assert.equal(r.nfe, 20);
      const e = rel(r.sample, ref.get('final_prev_sample_mean_unclamped')!);
      assert.ok(e <= 1e-5, `rel ${e}`);
    });
  }

  for (const name of SAMPLER_NAMES.filter((n) => n !== 'pc')) {
    it(`'${name}' runs on the network`, async () => {
      // Random weights make the ODE stiff; loose tolerances keep the call count small.
      const opts = name === 'ode' ? { rtol: 1e-2, atol: 1e-2 } : { steps: 3 };
      const r = await runSampler(
        name,
        score,
        { shape: [1, 3, 32, 32], ...opts },
        { generator: new Generator().manualSeed(0) },
      );
      assert.deepEqual(r.sample.dims, [1, 3, 32, 32]);
      assert.ok(r.sample.data.every(Number.isFinite));
      if (name === 'heun') assert.equal(r.nfe, 5);
      if (name === 'dpmpp-2m') assert.equal(r.nfe, 3);
      if (name === 'ode') assert.ok(r.nfe >= 8, `ode used ${r.nfe} calls`);
    });
  }

  it('inpainting on the network keeps the known pixels', async () => {
    const image = tensor(new Float32Array(3 * 32 * 32).fill(0.25), [1, 3, 32, 32]);
    const mask = tensor(
      new Float32Array(32 * 32).map((_, i) => (i < 512 ? 1 : 0)),
      [1, 1, 32, 32],
    );
    const r = await inpaint(score, { image, mask, steps: 2 }, { generator: new Generator().manualSeed(0) });
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < 512; i++) assert.equal(r.sample.data[c * 1024 + i], Math.fround(0.25));
  });
});
