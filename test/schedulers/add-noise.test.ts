/** addNoise against diffusers (fixtures add_noise/*), including the noise = None path on the global generator. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manualSeed, randn } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { Tensor } from '../../src/tensor.js';
import { assertExact, assertRel, ref } from './helpers.js';

const int64 = (values: number[]) => new Tensor('int64', BigInt64Array.from(values, BigInt), [values.length]);

describe('ScoreSdeVeScheduler.addNoise', () => {
  it('default 2000-step schedule, timesteps [0, 1, 999, 1999] as int64 tensor, int32 tensor or number[]', async () => {
    const orig = await ref('add_noise/original');
    const noise = await ref('add_noise/noise');
    const expected = (await ref('add_noise/default2000_t0_1_999_1999')).data;
    const s = new ScoreSdeVeScheduler();
    const ts = [0, 1, 999, 1999];
    assertExact(s.addNoise(orig, noise, int64(ts)).data, expected, 'int64');
    assertExact(
      s.addNoise(orig, noise, new Tensor('int32', Int32Array.from(ts), [4])).data,
      expected,
      'int32',
    );
    assertExact(s.addNoise(orig, noise, ts).data, expected, 'number[]');
  });

  it('10-step schedule, timesteps [0, 3, 9, 5]', async () => {
    const orig = await ref('add_noise/original');
    const noise = await ref('add_noise/noise');
    const s = new ScoreSdeVeScheduler();
    s.setTimesteps(10);
    s.setSigmas(10);
    const out = s.addNoise(orig, noise, int64([0, 3, 9, 5]));
    assertExact(out.data, (await ref('add_noise/N10_t0_3_9_5')).data, 'N10');
    assert.deepEqual(out.dims, [4, 3, 8, 8]);
  });

  it('noise = null draws randn_like from the global generator (torch.manual_seed(3))', async () => {
    const orig = await ref('add_noise/original');
    const expected = (await ref('add_noise/N10_noise_None_globalseed3')).data;
    const s = new ScoreSdeVeScheduler();
    s.setTimesteps(10);
    s.setSigmas(10);
    manualSeed(3);
    const out = s.addNoise(orig, null, int64([0, 3, 9, 5]));
    assertRel(out.data, expected, 1e-6, 'noise None');
    // Same as drawing the noise first from the same stream.
    manualSeed(3);
    const z = randn([4, 3, 8, 8]);
    assertExact(s.addNoise(orig, z, [0, 3, 9, 5]).data, out.data, 'explicit noise from the same stream');
  });

  it('a single timestep applies to every row', async () => {
    const orig = await ref('add_noise/original');
    const noise = await ref('add_noise/noise');
    const s = new ScoreSdeVeScheduler();
    assertExact(s.addNoise(orig, noise, 7).data, s.addNoise(orig, noise, [7, 7, 7, 7]).data, 'broadcast');
  });
});
