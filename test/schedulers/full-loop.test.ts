/**
 * diffusers' own scheduler test `test_full_loop_no_noise` (tests/schedulers/test_scheduler_score_sde_ve.py, v0.23.0),
 * mirrored step by step against fixtures full_loop_no_noise/*: setSigmas(3) **before** setTimesteps(3) (so the
 * network sees the first three entries of the 2000-step sigmas), the global generator seeded 0, and the dummy
 * model `sample * t / (t + 1)`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualSeed } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { torchSumF32 } from '../../src/schedulers/torch-reductions.js';
import { Tensor } from '../../src/tensor.js';
import { assertExact, assertRel, ref } from './helpers.js';

/** The test's `dummy_model`: sample * t / (t + 1) in float32 (t a 0-d float32 tensor). */
function dummyModel(sample: Tensor<'float32'>, t: number): Tensor<'float32'> {
  const denom = Math.fround(t + 1);
  const out = new Float32Array(sample.numel);
  for (let k = 0; k < out.length; k++) out[k] = Math.fround(sample.data[k] * t) / denom;
  return new Tensor('float32', out, sample.dims);
}

/** `torch.arange(768).reshape(3, 8, 8, 4) / 768` permuted to (4, 3, 8, 8): the test's `dummy_sample_deter`. */
function dummySampleDeter(): Tensor<'float32'> {
  const out = new Float32Array(768);
  for (let b = 0; b < 4; b++) {
    for (let chw = 0; chw < 192; chw++) out[b * 192 + chw] = (chw * 4 + b) / 768;
  }
  return new Tensor('float32', out, [4, 3, 8, 8]);
}

/** np.isclose(a, b) with numpy's default tolerances. */
function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-8 + 1e-5 * Math.abs(b);
}

describe("diffusers' test_full_loop_no_noise", () => {
  it('every sub-step and the final sum/mean the test asserts', async () => {
    const s = new ScoreSdeVeScheduler({
      numTrainTimesteps: 2000,
      snr: 0.15,
      sigmaMin: 0.01,
      sigmaMax: 1348,
      samplingEps: 1e-5,
    });
    let sample = dummySampleDeter();
    assertExact(sample.data, (await ref('full_loop_no_noise/sample_deter')).data, 'sample_deter');

    s.setSigmas(3);
    s.setTimesteps(3);
    const generator = manualSeed(0);
    let sub = 0;
    const checkSubstep = async () => {
      const expected = await ref(`full_loop_no_noise/after_substep${sub}`);
      // The values reach ~1e8; the README's rel 1e-6 is relative to the largest.
      assertRel(sample.data, expected.data, 1e-6, `after_substep${sub}`);
      sub++;
    };
    for (let i = 0; i < s.timesteps.numel; i++) {
      const t = s.timesteps.data[i];
      const sigmaT = s.sigmas.data[i];
      for (let c = 0; c < s.config.correct_steps; c++) {
        sample = s.stepCorrect(dummyModel(sample, sigmaT), sample, { generator }).prevSample;
        await checkSubstep();
      }
      const out = s.stepPred(dummyModel(sample, sigmaT), t, sample, { generator });
      sample = out.prevSample;
      await checkSubstep();
    }
    assert.equal(sub, 6);
    assertRel(sample.data, (await ref('full_loop_no_noise/final_sample')).data, 1e-6, 'final_sample');

    const abs = sample.data.map(Math.abs);
    const sumDouble = abs.reduce((acc, v) => acc + v, 0);
    assert.ok(isClose(sumDouble, 14372758528.0), `sum ${sumDouble}`);
    assert.ok(isClose(sumDouble / abs.length, 18714530.0), `mean ${sumDouble / abs.length}`);
    // torch's float32 sum order gives the asserted numbers exactly.
    const sum32 = torchSumF32(abs);
    assert.equal(sum32, 14372758528.0);
    assert.equal(Math.fround(sum32 / abs.length), 18714530.0);
  });
});
