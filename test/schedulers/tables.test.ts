/**
 * The scheduler's tables (timesteps, sigmas, discrete sigmas, step indices) against diffusers v0.23.0 + torch 1.13
 * (test/fixtures/scheduler). They are bit-exact; the README's rtol 3e-7 is checked too so a failure says which.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { assertExact, assertRtol, ref, refIndex } from './helpers.js';

const TABLE_RTOL = 3e-7;

async function checkTables(s: ScoreSdeVeScheduler, group: string): Promise<void> {
  for (const [name, actual] of [
    ['timesteps', s.timesteps],
    ['sigmas', s.sigmas],
    ['discrete_sigmas', s.discreteSigmas],
  ] as const) {
    const expected = await ref(`${group}/${name}`);
    assert.deepEqual(actual.dims, expected.dims, `${group}/${name} dims`);
    assert.equal(actual.dtype, 'float32');
    assertRtol(actual.data, expected.data, TABLE_RTOL, `${group}/${name}`);
    assertExact(actual.data, expected.data, `${group}/${name}`);
  }
}

describe('ScoreSdeVeScheduler tables', () => {
  it('constructor state (init/*): 2000-step tables, initNoiseSigma = sigma_max', async () => {
    const s = new ScoreSdeVeScheduler();
    await checkTables(s, 'init');
    assert.equal(s.initNoiseSigma, 1348);
    assert.equal(s.order, 1);
    assert.equal(s.length, 2000);
  });

  for (const n of [1, 2, 3, 7, 10, 16, 17, 50, 100, 1000, 2000]) {
    it(`setTimesteps(${n}) then setSigmas(${n}) (N${n}/*), with stepPred's index per timestep`, async () => {
      const s = new ScoreSdeVeScheduler();
      s.setTimesteps(n);
      s.setSigmas(n);
      await checkTables(s, `N${n}`);
      const expectedIndex = await refIndex(`N${n}/step_index`);
      const t = s.timesteps.data;
      const index = Array.from(t, (ti) => s.stepIndices(ti, 1)[0]);
      assert.deepEqual(index, expectedIndex, `N${n}/step_index`);
      // The fixtures say the index is N-1-i for every N here.
      assert.deepEqual(
        index,
        Array.from(t, (_, i) => n - 1 - i),
      );
    });
  }

  it('setSigmas before setTimesteps (order_sigmas_first_N3): sigmas keep the 2000 constructor timesteps', async () => {
    const s = new ScoreSdeVeScheduler();
    s.setSigmas(3);
    s.setTimesteps(3);
    await checkTables(s, 'order_sigmas_first_N3');
    assert.equal(s.sigmas.numel, 2000);
  });

  const configs: [string, ConstructorParameters<typeof ScoreSdeVeScheduler>[0]][] = [
    ['cfg_celebahq_like', { sigmaMax: 348, snr: 0.075 }],
    ['cfg_test_sigmas_a', { sigmaMin: 0.0001, sigmaMax: 1 }],
    ['cfg_test_sigmas_b', { sigmaMin: 0.001, sigmaMax: 100 }],
    ['cfg_eps_1e-3', { samplingEps: 0.001 }],
  ];
  for (const [group, options] of configs) {
    it(`non-default config ${group}: constructor sigmas and 10-step tables`, async () => {
      const s = new ScoreSdeVeScheduler(options);
      const init = await ref(`${group}/init_sigmas_2000`);
      assertExact(s.sigmas.data, init.data, `${group}/init_sigmas_2000`);
      s.setTimesteps(10);
      s.setSigmas(10);
      await checkTables(s, group);
    });
  }

  it('setSigmas overrides: sigmaMin/sigmaMax arguments replace the config for that call only', async () => {
    const s = new ScoreSdeVeScheduler();
    s.setTimesteps(10);
    s.setSigmas(10, 0.001, 100);
    await checkTables(s, 'cfg_test_sigmas_b');
    assert.equal(s.config.sigma_min, 0.01);
  });

  it('setTimesteps(n, samplingEps) overrides sampling_eps', async () => {
    const s = new ScoreSdeVeScheduler();
    s.setTimesteps(10, 0.001);
    s.setSigmas(10);
    await checkTables(s, 'cfg_eps_1e-3');
  });

  it('scaleModelInput is the identity (returns the same tensor)', () => {
    const s = new ScoreSdeVeScheduler();
    const x = s.sigmas.reshape([2, 1000]);
    assert.equal(s.scaleModelInput(x, 3), x);
  });

  it('setTimesteps alone leaves sigmas and discrete sigmas as they were (stepPred then indexes the old table)', () => {
    const s = new ScoreSdeVeScheduler();
    const before = s.discreteSigmas;
    s.setTimesteps(10);
    assert.equal(s.timesteps.numel, 10);
    assert.equal(s.discreteSigmas, before);
    assert.equal(s.sigmas.numel, 2000);
    // index = trunc(t * 9) into the 2000-entry table
    assert.deepEqual(Array.from(s.stepIndices(1, 2)), [9, 9]);
  });
});
