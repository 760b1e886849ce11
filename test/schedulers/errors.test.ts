/** Bad input to the scheduler gets a clear error naming the argument and the problem (and never a silent NaN). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { Tensor } from '../../src/tensor.js';

const f32 = (dims: number[], fill = 0.5) =>
  new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

describe('ScoreSdeVeScheduler input checks', () => {
  const s = new ScoreSdeVeScheduler();
  s.setTimesteps(10);
  s.setSigmas(10);
  const x = f32([2, 3, 4, 4]);

  it('setTimesteps / setSigmas reject non-positive or fractional step counts and bad sigmas', () => {
    const t = new ScoreSdeVeScheduler();
    for (const n of [0, -3, 2.5, Number.NaN, '10' as unknown as number]) {
      assert.throws(() => t.setTimesteps(n), /setTimesteps: numInferenceSteps must be an integer ≥ 1/);
      assert.throws(() => t.setSigmas(n), /setSigmas: numInferenceSteps must be an integer ≥ 1/);
    }
    assert.throws(() => t.setTimesteps(10, Number.NaN), /samplingEps must be a number in \[0, 1\)/);
    assert.throws(() => t.setTimesteps(10, -1e-5), RangeError);
    assert.throws(() => t.setSigmas(10, -1), /sigmaMin must be a finite number > 0, got -1/);
    assert.throws(() => t.setSigmas(10, Number.NaN), /sigmaMin/);
    assert.throws(() => t.setSigmas(10, undefined, Number.POSITIVE_INFINITY), /sigmaMax/);
    assert.throws(() => t.setSigmas(10, 10, 1), /sigmaMin \(10\) must not exceed sigmaMax \(1\)/);
    // A failed call leaves the tables untouched.
    assert.equal(t.timesteps.numel, 2000);
    assert.equal(t.discreteSigmas.numel, 2000);
  });

  it('stepPred checks dtypes and shapes', () => {
    const f64 = new Tensor('float64', new Float64Array(x.numel), x.dims);
    assert.throws(
      () => s.stepPred(f64 as unknown as Tensor<'float32'>, 0.5, x),
      /stepPred: modelOutput must be float32, got float64/,
    );
    assert.throws(
      () => s.stepPred(x, 0.5, f64 as unknown as Tensor<'float32'>),
      /stepPred: sample must be float32/,
    );
    assert.throws(
      () => s.stepPred(f32([2, 3, 4, 5]), 0.5, x),
      /stepPred: modelOutput must have shape \[2, 3, 4, 4\], got \[2, 3, 4, 5\]/,
    );
    assert.throws(
      () => s.stepPred(x, 0.5, [1, 2] as unknown as Tensor<'float32'>),
      /stepPred: sample must be a Tensor/,
    );
    assert.throws(() => s.stepPred(f32([0, 3]), 0.5, f32([0, 3])), /non-empty/);
    assert.throws(
      () => s.stepPred(x, 0.5, x, { noise: f32([2, 3, 4, 5]) }),
      /options\.noise must have shape/,
    );
    assert.throws(
      () => s.stepPred(x, 0.5, x, { generator: [new Generator()] }),
      /1 generators for a batch of 2/,
    );
  });

  it('stepPred checks timesteps: count, type and range', () => {
    assert.throws(() => s.stepPred(x, [0.1, 0.2, 0.3], x), /3 values for a batch of 2/);
    assert.throws(() => s.stepPred(x, Number.NaN, x), /timestep NaN gives index NaN/);
    assert.throws(() => s.stepPred(x, 1.2, x), /timestep 1.2 gives index 10, outside the 10 discrete sigmas/);
    assert.throws(() => s.stepPred(x, -0.5, x), /outside the 10 discrete sigmas/);
    assert.throws(() => s.stepPred(x, '0.5' as unknown as number, x), TypeError);
    assert.throws(() => s.stepPred(x, ['a'] as unknown as number[], x), /array must hold numbers/);
    const bool = new Tensor('bool', new Uint8Array(1), []);
    assert.throws(
      () => s.stepPred(x, bool, x),
      /timestep tensor must be float32, float64, int32 or int64, got bool/,
    );
    assert.throws(() => s.stepPred(x, f32([2, 2]), x), /scalar or 1-D/);
  });

  it('stepCorrect checks dtypes and shapes', () => {
    assert.throws(
      () => s.stepCorrect(f32([2, 3, 4, 4]), f32([2, 3, 4, 2])),
      /stepCorrect: modelOutput must have shape/,
    );
    assert.throws(() => s.stepCorrect(x, x, { noise: f32([1, 3, 4, 4]) }), /stepCorrect: options\.noise/);
  });

  it('addNoise checks timesteps (integer indices in range) and noise', () => {
    assert.throws(
      () => s.addNoise(x, null, [0, 10]),
      /addNoise: timesteps\[1\] = 10 is not an index into the 10 discrete sigmas/,
    );
    assert.throws(() => s.addNoise(x, null, [-1, 0]), /timesteps\[0\] = -1/);
    assert.throws(() => s.addNoise(x, null, [0.5, 1]), /timesteps\[0\] = 0.5/);
    assert.throws(
      () => s.addNoise(x, null, f32([2])),
      /must be integer indices \(int32 or int64 tensor\), got float32/,
    );
    assert.throws(() => s.addNoise(x, null, [1, 2, 3]), /3 values for a batch of 2/);
    assert.throws(() => s.addNoise(x, f32([2, 3]), [1, 2]), /addNoise: noise must have shape/);
  });

  it('int64 and float64 per-row timesteps are accepted (torch promotion rules for the index)', () => {
    const noise = f32([2, 3, 4, 4], 0);
    const i64 = new Tensor('int64', BigInt64Array.from([1n, 0n]), [2]);
    const a = s.stepPred(x, i64, x, { noise });
    const b = s.stepPred(x, [1, 0], x, { noise });
    assert.deepEqual(Array.from(a.prevSample.data), Array.from(b.prevSample.data));
    // float64 (B,) keeps t·(N−1) in float64: 0.7777777777777778·9 = 7.000000000000001 → 7; in float32 it is 7 as well.
    const f64 = new Tensor('float64', Float64Array.from([7 / 9, 1]), [2]);
    assert.deepEqual(Array.from(s.stepIndices(f64, 2)), [7, 9]);
    // A value where the two differ: just below 7/9 in float64 truncates to 6, but rounds up to 7/9's float32.
    const below = 7 / 9 - 1e-12;
    assert.deepEqual(
      Array.from(s.stepIndices(new Tensor('float64', Float64Array.from([below, below]), [2]), 2)),
      [6, 6],
    );
    assert.deepEqual(Array.from(s.stepIndices([below, below], 2)), [7, 7]);
  });
});
