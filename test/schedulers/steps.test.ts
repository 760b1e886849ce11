/**
 * stepPred / stepCorrect against diffusers v0.23.0 (fixtures steps/*): the scheduler test's inputs on a fresh
 * (2000-step) scheduler and after setTimesteps(10) + setSigmas(10), timesteps as numbers and as tensors.
 * With the stored noise injected the outputs are bit-exact; drawn from a seeded generator they must meet the
 * README's rel 1e-6 (they are exact too while src/random is exact).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator, manualSeed, randn } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { torchMeanF32, torchRowNorms2F32 } from '../../src/schedulers/torch-reductions.js';
import { Tensor } from '../../src/tensor.js';
import { assertExact, assertRel, ref, refIndex } from './helpers.js';

const STEP_REL = 1e-6;

/** The fixture's timestep labels and the Python floats they stand for. */
const N10_TIMESTEPS: [string, number][] = [
  ['0', 0],
  ['0.1', 0.1],
  ['0.5', 0.5],
  ['0.75', 0.75],
  ['1', 1],
  ['0.888890028', 0.8888900279998779],
  ['9.99999975e-06', 9.999999747378752e-6],
];

function scheduler(group: 'default2000' | 'N10'): ScoreSdeVeScheduler {
  const s = new ScoreSdeVeScheduler();
  if (group === 'N10') {
    s.setTimesteps(10);
    s.setSigmas(10);
  }
  return s;
}

async function inputs() {
  return {
    sample: await ref('steps/sample'),
    residual: await ref('steps/residual'),
    noise: await ref('steps/noise_seed0'),
  };
}

describe('ScoreSdeVeScheduler.stepPred', () => {
  const cases: [group: 'default2000' | 'N10', label: string, t: number, asTensor: boolean][] = [];
  for (const [label, t] of N10_TIMESTEPS.slice(0, 5)) cases.push(['default2000', label, t, false]);
  for (const [label, t] of N10_TIMESTEPS) {
    cases.push(['N10', label, t, false]);
    cases.push(['N10', `${label}_tensor`, t, true]);
  }
  for (const [group, label, t, asTensor] of cases) {
    const key = `steps/${group}/pred_t${label}`;
    it(`${key}: index, prevSampleMean and prevSample`, async () => {
      const { sample, residual, noise } = await inputs();
      const s = scheduler(group);
      const timestep = asTensor ? new Tensor('float32', Float32Array.of(t), []) : t;
      assert.deepEqual(Array.from(s.stepIndices(timestep, 4)), await refIndex(`${key}/index`));

      const injected = s.stepPred(residual, timestep, sample, { noise });
      assertExact(injected.prevSampleMean.data, (await ref(`${key}/prev_sample_mean`)).data, `${key} mean`);
      assertExact(injected.prevSample.data, (await ref(`${key}/prev_sample`)).data, `${key} prev`);
      assert.deepEqual(injected.prevSample.dims, [4, 3, 8, 8]);

      const drawn = s.stepPred(residual, timestep, sample, { generator: manualSeed(0) });
      assertRel(
        drawn.prevSample.data,
        (await ref(`${key}/prev_sample`)).data,
        STEP_REL,
        `${key} prev (generator)`,
      );
      assertExact(
        drawn.prevSampleMean.data,
        injected.prevSampleMean.data,
        `${key} mean does not depend on noise`,
      );
    });
  }

  it('does not modify its inputs', async () => {
    const { sample, residual, noise } = await inputs();
    const before = [sample.data.slice(), residual.data.slice(), noise.data.slice()];
    const s = scheduler('N10');
    s.stepPred(residual, 0.5, sample, { noise });
    s.stepCorrect(residual, sample, { noise });
    assertExact(sample.data, before[0], 'sample');
    assertExact(residual.data, before[1], 'modelOutput');
    assertExact(noise.data, before[2], 'noise');
  });

  it('at index 0 the adjacent sigma is 0, so g = discreteSigmas[0]', async () => {
    const { sample, residual } = await inputs();
    const s = scheduler('N10');
    const zero = new Tensor('float32', new Float32Array(sample.numel), sample.dims);
    const out = s.stepPred(residual, 0, sample, { noise: zero });
    const g = s.discreteSigmas.data[0];
    const g2 = Math.fround(g * g);
    for (let k = 0; k < sample.numel; k++) {
      assert.equal(
        out.prevSampleMean.data[k],
        Math.fround(sample.data[k] + Math.fround(g2 * residual.data[k])),
      );
    }
    assertExact(out.prevSample.data, out.prevSampleMean.data, 'zero noise: prev = mean');
  });

  it('takes one timestep per batch row (number[] or 1-D tensor) and uses each row its own sigma', async () => {
    const { sample, residual, noise } = await inputs();
    const s = scheduler('N10');
    const ts = [0.1, 0.5, 0.75, 1];
    const perRow = s.stepPred(residual, ts, sample, { noise });
    const perRowTensor = s.stepPred(residual, new Tensor('float32', Float32Array.from(ts), [4]), sample, {
      noise,
    });
    assertExact(perRowTensor.prevSample.data, perRow.prevSample.data, 'array vs tensor');
    const row = 3 * 8 * 8;
    for (const [b, t] of ts.entries()) {
      const whole = await ref(`steps/N10/pred_t${t}/prev_sample`);
      assertExact(
        perRow.prevSample.data.subarray(b * row, (b + 1) * row),
        whole.data.subarray(b * row, (b + 1) * row),
        `row ${b} (t = ${t})`,
      );
    }
  });

  it('a list of generators draws one row per generator (diffusers randn_tensor)', async () => {
    const { sample, residual } = await inputs();
    const s = scheduler('N10');
    const gens = [0, 1, 2, 3].map((seed) => new Generator().manualSeed(seed));
    const out = s.stepPred(residual, 0.5, sample, { generator: gens });
    const zero = new Tensor('float32', new Float32Array(sample.numel), sample.dims);
    const mean = s.stepPred(residual, 0.5, sample, { noise: zero }).prevSample;
    const g = Math.fround(
      Math.sqrt(Math.fround(s.discreteSigmas.data[4] ** 2 - Math.fround(s.discreteSigmas.data[3] ** 2))),
    );
    const row = 3 * 8 * 8;
    for (let b = 0; b < 4; b++) {
      const z = randn([1, 3, 8, 8], { generator: new Generator().manualSeed(b) }).data;
      for (let k = 0; k < row; k++) {
        assert.equal(
          out.prevSample.data[b * row + k],
          Math.fround(mean.data[b * row + k] + Math.fround(g * z[k])),
        );
      }
    }
  });
});

describe('ScoreSdeVeScheduler.stepCorrect', () => {
  it('reproduces torch.norm(...).mean() and the step size bit for bit (correct_internals)', async () => {
    const { residual, noise } = await inputs();
    const grad = torchMeanF32(torchRowNorms2F32(residual.data, 4));
    const nz = torchMeanF32(torchRowNorms2F32(noise.data, 4));
    assert.equal(grad, (await ref('steps/correct_internals/grad_norm')).data[0]);
    assert.equal(nz, (await ref('steps/correct_internals/noise_norm')).data[0]);
    let step = Math.fround(Math.fround(Math.fround(0.15) * nz) / grad);
    step = Math.fround(Math.fround(step * step) * 2);
    assert.equal(step, (await ref('steps/correct_internals/step_size')).data[0]);
  });

  for (const group of ['default2000', 'N10'] as const) {
    it(`steps/${group}/correct: the corrector does not depend on the schedule`, async () => {
      const { sample, residual, noise } = await inputs();
      const s = scheduler(group);
      const expected = (await ref(`steps/${group}/correct/prev_sample`)).data;
      assertExact(s.stepCorrect(residual, sample, { noise }).prevSample.data, expected, `${group} correct`);
      const drawn = s.stepCorrect(residual, sample, { generator: manualSeed(0) }).prevSample;
      assertRel(drawn.data, expected, STEP_REL, `${group} correct (generator)`);
    });
  }

  it('uses one step size for the whole batch (the mean of the per-row norms)', async () => {
    const { sample, residual, noise } = await inputs();
    const s = scheduler('N10');
    const out = s.stepCorrect(residual, sample, { noise }).prevSample.data;
    const step = (await ref('steps/correct_internals/step_size')).data[0];
    const scale = Math.fround(Math.sqrt(Math.fround(step * 2)));
    for (let k = 0; k < out.length; k++) {
      const m = Math.fround(sample.data[k] + Math.fround(step * residual.data[k]));
      assert.equal(out[k], Math.fround(m + Math.fround(scale * noise.data[k])));
    }
  });
});

describe('batch-1 corrector then predictor at 32×32 with large values (steps/b1)', () => {
  it('matches diffusers with seeded generators', async () => {
    const x = await ref('steps/b1/sample');
    const mo = await ref('steps/b1/model_output');
    const s = scheduler('N10');
    const c = s.stepCorrect(mo, x, { generator: new Generator().manualSeed(8) }).prevSample;
    assertRel(c.data, (await ref('steps/b1/correct_prev_sample')).data, STEP_REL, 'b1 correct');
    const t0 = new Tensor('float32', s.timesteps.data.slice(0, 1), []);
    const cRef = await ref('steps/b1/correct_prev_sample');
    const o = s.stepPred(mo, t0, cRef, { generator: new Generator().manualSeed(9) });
    assertRel(o.prevSampleMean.data, (await ref('steps/b1/pred_prev_sample_mean')).data, STEP_REL, 'b1 mean');
    assertRel(o.prevSample.data, (await ref('steps/b1/pred_prev_sample')).data, STEP_REL, 'b1 prev');
    // The noise-free part is bit-exact whatever the RNG does.
    assertExact(o.prevSampleMean.data, (await ref('steps/b1/pred_prev_sample_mean')).data, 'b1 mean exact');
  });
});
