/**
 * chooseSampling: which sampler, steps and options a `sample` / `evaluate` / `info` run uses. Without --model
 * the bundled model's options apply to whichever sampler runs, as far as it takes them; flags override them,
 * and 'off' turns a Gaussian option off. With --model, none of them apply.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundledModelOptions, chooseSampling } from '../../src/cli/generate-common.js';
import { DEFAULT_MODEL } from '../../src/pipelines/default-model.js';
import { SAMPLER_NAMES, SAMPLER_OPTION_TABLE, type SamplerOptionName } from '../../src/samplers/index.js';

test("the bundled model's options reach every sampler that takes them, and only without --model", () => {
  const own = chooseSampling({}, undefined);
  assert.equal(own.sampler, DEFAULT_MODEL.sampler);
  assert.equal(own.steps, DEFAULT_MODEL.sampler === 'ode' ? undefined : DEFAULT_MODEL.steps);
  assert.deepEqual(own.flags.samplerOptions, DEFAULT_MODEL.options);
  for (const name of SAMPLER_NAMES) {
    const want = Object.fromEntries(
      Object.entries(DEFAULT_MODEL.options).filter(([k]) =>
        SAMPLER_OPTION_TABLE[k as SamplerOptionName].samplers.includes(name),
      ),
    );
    assert.deepEqual(bundledModelOptions(name), want, name);
    assert.deepEqual(chooseSampling({}, name).flags.samplerOptions, want, `${name} without --model`);
    assert.deepEqual(
      chooseSampling({ model: 'some/model' }, name).flags.samplerOptions,
      {},
      `${name} --model`,
    );
  }
  // The Gaussian options are for every sampler: a bundled-model default of either reaches them all.
  for (const k of ['gaussianAbove', 'gaussianNormAbove'] as const)
    assert.deepEqual(SAMPLER_OPTION_TABLE[k].samplers, SAMPLER_NAMES);
});

test("--gaussian-norm-above and --gaussian-above take a σ > 0 or 'off'", () => {
  const on = chooseSampling({ 'gaussian-norm-above': '3' }, 'dpmpp-2m').flags.samplerOptions;
  assert.equal(on.gaussianNormAbove, 3);
  const off = chooseSampling({ 'gaussian-norm-above': 'off', 'gaussian-above': 'off' }, 'heun').flags;
  assert.equal('gaussianNormAbove' in off.samplerOptions, false);
  assert.equal('gaussianAbove' in off.samplerOptions, false);
  assert.equal(
    chooseSampling({ model: 'm', 'gaussian-above': '10' }, 'ode').flags.samplerOptions.gaussianAbove,
    10,
  );
  assert.throws(
    () => chooseSampling({ 'gaussian-norm-above': 'abc' }, 'heun'),
    /--gaussian-norm-above must be a σ > 0 or off, got "abc"/,
  );
  assert.throws(() => chooseSampling({ 'gaussian-norm-above': '0' }, 'heun'), /--gaussian-norm-above/);
});
