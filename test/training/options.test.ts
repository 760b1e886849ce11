/** train()'s options table: one check and one resolution for every option. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OptionError } from '../../src/errors.js';
import {
  checkTrainOptions,
  resolveTrainOptions,
  TRAIN_DEFAULTS,
  TRAJECTORY_KEYS,
  trajectoryOf,
} from '../../src/training/options.js';

describe('train options', () => {
  it('resolve as given, else the fallback (the model, a resumed run), else the default', () => {
    const o = resolveTrainOptions({ out: 'o', steps: 5, lr: 1e-3 }, { sigmaMin: 0.02, sigmaMax: 20 });
    assert.equal(o.lr, 1e-3);
    assert.equal(o.sigmaMax, 20);
    assert.equal(o.batchSize, TRAIN_DEFAULTS.batchSize);
    assert.equal(resolveTrainOptions({ out: 'o', steps: 5 }).sigmaMax, TRAIN_DEFAULTS.sigmaMax);
  });

  it('keep null (no clipping) as a value, given or saved', () => {
    assert.equal(resolveTrainOptions({ out: 'o', steps: 5, gradClip: null }).gradClip, null);
    assert.equal(resolveTrainOptions({ out: 'o', resume: true }, { gradClip: null }).gradClip, null);
    assert.equal(resolveTrainOptions({ out: 'o', resume: true }, { gradClip: 3 }).gradClip, 3);
  });

  it('save the trajectory options only', () => {
    const t = trajectoryOf(resolveTrainOptions({ out: 'o', steps: 5 }));
    assert.deepEqual(Object.keys(t), [...TRAJECTORY_KEYS]);
    assert.ok(!('checkpointEvery' in t));
  });

  it('name the library option in errors, and render it with other names', () => {
    const bad = () => checkTrainOptions({ out: 'o', steps: 5, emaDecay: 1.5 });
    assert.throws(bad, /^OptionError: train: emaDecay must be a number in \[0, 1\), got 1\.5$/);
    try {
      bad();
    } catch (e) {
      assert.ok(e instanceof OptionError);
      assert.equal(
        e.render((k) => `--${k}`),
        'train: --emaDecay must be a number in [0, 1), got 1.5',
      );
    }
    assert.throws(
      () => resolveTrainOptions({ out: 'o', steps: 5, sigmaMax: 0.001 }),
      /sigmaMin \(0\.01\) must be below sigmaMax \(0\.001\)/,
    );
  });
});
