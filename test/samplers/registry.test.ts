import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator } from '../../src/random/index.js';
import { gaussianScore } from '../../src/samplers/analytic.js';
import { sampleDpmSolver2M } from '../../src/samplers/dpmpp-2m.js';
import { sampleHeun } from '../../src/samplers/heun.js';
import {
  runSampler,
  SAMPLER_DEFAULTS,
  SAMPLER_DESCRIPTIONS,
  SAMPLER_NAMES,
  SAMPLER_OPTION_TABLE,
  SAMPLERS,
  type SamplerName,
  samplerOptionNames,
} from '../../src/samplers/registry.js';
import { karrasSigmas } from '../../src/samplers/schedules.js';
import type { ScoreFn } from '../../src/samplers/types.js';
import { tensor } from '../../src/tensor.js';

const score = gaussianScore(0.5, 0.2, [2]);
const seeded = () => ({ generator: new Generator().manualSeed(0) });

describe('sampler registry', () => {
  it('lists every sampler with a description and defaults', () => {
    assert.deepEqual([...SAMPLER_NAMES], ['pc', 'ode', 'heun', 'dpmpp-2m']);
    for (const name of SAMPLER_NAMES) {
      assert.ok(SAMPLER_DESCRIPTIONS[name].length > 10);
      assert.ok(SAMPLER_DEFAULTS[name]);
    }
  });

  it('applies the documented defaults (same result as the explicit call)', async () => {
    const explicit = await sampleHeun(
      score,
      { shape: [3, 2], steps: 50, sigmaMin: 0.01, sigmaMax: 1348, rho: 7 },
      seeded(),
    );
    const viaRegistry = await runSampler('heun', score, { shape: [3, 2], steps: undefined }, seeded());
    assert.deepEqual(viaRegistry.sample.data, explicit.sample.data);
    assert.equal(viaRegistry.nfe, 99);
    const dpm = await sampleDpmSolver2M(
      score,
      { shape: [3, 2], steps: 50, sigmaMin: 0.01, sigmaMax: 380, rho: 7 },
      seeded(),
    );
    const dpmReg = await runSampler(
      'dpmpp-2m',
      score,
      { shape: [3, 2], sigmaMax: 380, snr: 0.075 },
      seeded(),
    );
    assert.deepEqual(dpmReg.sample.data, dpm.sample.data, 'options another sampler uses (snr) are ignored');
    const pc = await runSampler('pc', score, { shape: [1, 2], steps: 3 }, seeded());
    assert.equal(pc.nfe, 6, 'pc: one corrector step per step');
  });

  it('rejects unknown samplers, unknown options and bad values with clear messages', async () => {
    await assert.rejects(
      runSampler('euler' as SamplerName, score, { shape: [1, 2] }),
      /unknown sampler "euler"; known: pc, ode, heun, dpmpp-2m/,
    );
    await assert.rejects(
      runSampler('heun', score, { shape: [1, 2], stpes: 3 } as never),
      /unknown option 'stpes'/,
    );
    await assert.rejects(
      runSampler('heun', score, { shape: [1, 2], steps: 0 }),
      /steps must be an integer ≥ 1, got 0/,
    );
    await assert.rejects(
      runSampler('dpmpp-2m', score, { shape: [1, 2], sigmaMin: 5, sigmaMax: 1 }),
      /sigmaMin \(5\) must be < sigmaMax \(1\)/,
    );
    await assert.rejects(
      runSampler('pc', score, { shape: [1, 2], predictor: 'euler' as never }),
      /predictor must be one of reverse-diffusion, euler-maruyama, ancestral/,
    );
    await assert.rejects(
      runSampler('ode', score, { shape: [1, 2], rtol: -1 }),
      /rtol must be a finite number > 0, got -1/,
    );
    await assert.rejects(
      runSampler('heun', score, { shape: [2] }),
      /shape must be \[batch, \.\.\.sample dims\]/,
    );
    const wrongShape: ScoreFn = async () => tensor([1], [1, 1]);
    await assert.rejects(
      runSampler('heun', wrongShape, { shape: [1, 2], steps: 2 }),
      /score function returned float32 \[1, 1\] for input \[1, 2\]; expected the same shape in float32/,
    );
  });

  it('karras schedule: exact ends, ρ-spaced, final 0', () => {
    const s = karrasSigmas(4, 0.01, 100, 7);
    assert.equal(s.length, 5);
    assert.equal(s[0], 100);
    assert.equal(s[3], 0.01);
    assert.equal(s[4], 0);
    const mid = (100 ** (1 / 7) + (1 / 3) * (0.01 ** (1 / 7) - 100 ** (1 / 7))) ** 7;
    assert.ok(Math.abs(s[1] - mid) < 1e-12 * mid);
  });
});

describe('SAMPLER_OPTION_TABLE (which sampler reads which option)', () => {
  it('refuses an option for another sampler; accepts scheduler settings everywhere', async () => {
    await assert.rejects(
      runSampler('heun', score, { shape: [1, 2], steps: 2, predictor: 'ancestral' }),
      /runSampler\('heun'\): option 'predictor' is for pc, not heun/,
    );
    await assert.rejects(
      runSampler('dpmpp-2m', score, { shape: [1, 2], steps: 2, churn: 1 }),
      /option 'churn' is for heun, not dpmpp-2m/,
    );
    await assert.rejects(
      runSampler('ode', score, { shape: [1, 2], steps: 5 }),
      /option 'steps' is for pc, heun, dpmpp-2m, not ode/,
    );
    await assert.rejects(
      runSampler('pc', score, { shape: [1, 2], steps: 2, rtol: 1e-3 }),
      /option 'rtol' is for ode, not pc/,
    );
    // The pipeline passes its scheduler config (snr, corrector steps, …) to every sampler.
    const heun = await runSampler(
      'heun',
      score,
      { shape: [1, 2], steps: 2, snr: 0.2, correctSteps: 3 },
      seeded(),
    );
    assert.equal(heun.nfe, 3);
  });

  it('every option has a row, and every row names known samplers', () => {
    for (const [name, info] of Object.entries(SAMPLER_OPTION_TABLE)) {
      assert.ok(info.samplers.length > 0, name);
      for (const s of info.samplers)
        assert.ok((SAMPLER_NAMES as readonly string[]).includes(s), `${name}: ${s}`);
      for (const s of info.samplers) {
        assert.ok(samplerOptionNames(s).includes(name as never));
      }
    }
    // Each sampler's defaults are options it reads.
    for (const s of SAMPLER_NAMES) {
      for (const k of Object.keys(SAMPLERS[s].defaults))
        assert.ok(samplerOptionNames(s).includes(k as never), `${s}.${k}`);
    }
  });
});

describe('the denoised estimate every sampler reports (live previews)', () => {
  it('is the posterior mean μ + s²/(s² + σ²)·(x − μ) of Gaussian data from step 0, where the sample is noise', async () => {
    // Data N(0.5, 0.2²): at σ ≈ 50 the posterior mean lies within 0.2²/50² · |x − μ| ≈ 1e-3 of μ,
    // while x itself has a standard deviation of about σ.
    const data = gaussianScore(0.5, 0.2, [1, 2, 2]);
    for (const name of SAMPLER_NAMES) {
      const steps: { denoised?: Float32Array; sample: Float32Array; sigma: number }[] = [];
      await runSampler(
        name,
        data,
        { shape: [3, 1, 2, 2], sigmaMin: 0.01, sigmaMax: 50, ...(name === 'ode' ? {} : { steps: 6 }) },
        {
          ...seeded(),
          onStep: (s) => steps.push({ denoised: s.denoised?.data, sample: s.sample.data, sigma: s.sigma }),
        },
      );
      const first = steps[0];
      assert.ok(first.denoised, `${name}: no denoised estimate`);
      const far = (v: Float32Array) => Math.max(...Array.from(v, (x) => Math.abs(x - 0.5)));
      assert.ok(
        far(first.denoised) < 5e-3,
        `${name}: denoised ${far(first.denoised)} from μ at σ ${first.sigma}`,
      );
      assert.ok(far(first.sample) > 1, `${name}: the sample is already clean (${far(first.sample)})`);
      // Every step reports one (pc at 6 steps wanders too far for its estimate to be near the data).
      for (const s of steps) assert.equal(s.denoised?.length, 12, `${name} at σ ${s.sigma}`);
    }
  });
});
