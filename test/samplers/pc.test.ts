/**
 * Predictor–corrector samplers: the diffusers default against ScoreSdeVeScheduler's own loop (bit for bit),
 * every predictor × corrector pair on an analytic mixture, and the update formulas of the Score SDE paper.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator, randnTensor } from '../../src/random/index.js';
import { gaussianMixtureScore } from '../../src/samplers/analytic.js';
import { MIXTURE_2D } from '../../src/samplers/analytic-examples.js';
import { PC_CORRECTORS, PC_PREDICTORS, type PcOptions, samplePc } from '../../src/samplers/pc.js';
import { ancestralStep, annealedLangevinStep, eulerMaruyamaStep } from '../../src/samplers/pc-steps.js';
import { runSampler } from '../../src/samplers/registry.js';
import type { SamplerStep, ScoreFn } from '../../src/samplers/types.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import type { Tensor } from '../../src/tensor.js';
import { assertMatchesMixture } from './mixture-stats.js';

const mixture = gaussianMixtureScore(MIXTURE_2D);
const seeded = (seed: number) => ({ generator: new Generator().manualSeed(seed) });

/** ScoreSdeVePipeline.__call__'s loop, written out with the scheduler (diffusers v0.23.0 order). */
async function diffusersLoop(
  score: ScoreFn,
  shape: number[],
  steps: number,
  scheduler: ScoreSdeVeScheduler,
  generator: Generator,
) {
  let sample = randnTensor(shape, { generator });
  const init = Math.fround(scheduler.initNoiseSigma);
  sample.data.forEach((v, i) => {
    sample.data[i] = v * init;
  });
  scheduler.setTimesteps(steps);
  scheduler.setSigmas(steps);
  let mean: Tensor<'float32'> = sample;
  const t = scheduler.timesteps.data;
  for (let i = 0; i < t.length; i++) {
    const sigmaT = new Float32Array(shape[0]).fill(scheduler.sigmas.data[i]);
    for (let c = 0; c < scheduler.config.correct_steps; c++) {
      sample = scheduler.stepCorrect(await score(sample, sigmaT), sample, { generator }).prevSample;
    }
    const out = scheduler.stepPred(await score(sample, sigmaT), t[i], sample, { generator });
    sample = out.prevSample;
    mean = out.prevSampleMean;
  }
  return mean;
}

describe('predictor–corrector sampling', () => {
  it("the default (reverse diffusion + Langevin) is bit-identical to diffusers' loop, for default and custom configs", async () => {
    const shape = [3, 2];
    const ref = await diffusersLoop(
      mixture,
      shape,
      50,
      new ScoreSdeVeScheduler(),
      new Generator().manualSeed(11),
    );
    const r = await runSampler('pc', mixture, { shape, steps: 50 }, seeded(11));
    assert.equal(r.nfe, 100);
    assert.deepEqual(r.sample.data, ref.data);
    const cfg = { sigmaMax: 380, snr: 0.075, correctSteps: 2 };
    const ref2 = await diffusersLoop(
      mixture,
      shape,
      20,
      new ScoreSdeVeScheduler(cfg),
      new Generator().manualSeed(12),
    );
    const r2 = await runSampler('pc', mixture, { shape, steps: 20, ...cfg }, seeded(12));
    assert.equal(r2.nfe, 60);
    assert.deepEqual(r2.sample.data, ref2.data);
  });

  for (const predictor of PC_PREDICTORS) {
    it(`${predictor} × {${PC_CORRECTORS.join(', ')}} sample the 2-D mixture (weights, moments within 4 standard errors)`, async () => {
      for (const corrector of PC_CORRECTORS) {
        const opts: PcOptions = {
          shape: [1000, 2],
          steps: 200,
          sigmaMin: 0.01,
          sigmaMax: 1348,
          snr: 0.15,
          correctSteps: 1,
          samplingEps: 1e-5,
          predictor,
          corrector,
        };
        const r = await samplePc(mixture, opts, seeded(0));
        assert.equal(r.nfe, corrector === 'none' ? 200 : 400);
        // Every predictor ends with the noise-free step from σmin (Tweedie's formula at σ = 0.01).
        assertMatchesMixture(mixture.model, r.sample, {
          label: `${predictor} + ${corrector}`,
          finalSigma: 0.01,
        });
      }
    });
  }

  it('update formulas: Euler–Maruyama 2σ²·ln(σ/σ′), ancestral σ′·√(σ² − σ′²)/σ, annealed Langevin 2(snr·σ)²', () => {
    const em = eulerMaruyamaStep(10, 8);
    assert.equal(em.step, 200 * Math.log(10 / 8));
    assert.equal(em.std, Math.sqrt(200 * Math.log(10 / 8)));
    assert.deepEqual(eulerMaruyamaStep(0.5, 0), { step: 0.25, std: 0.5 });
    const anc = ancestralStep(5, 4);
    assert.equal(anc.step, 9);
    assert.equal(anc.std, Math.fround(Math.sqrt((16 * 9) / 25)));
    assert.deepEqual(ancestralStep(0.01, 0), { step: Math.fround(Math.fround(0.01) ** 2), std: 0 });
    const al = annealedLangevinStep(0.16, 10);
    assert.equal(al.step, Math.fround(Math.fround(Math.fround(Math.fround(0.16) * 10) ** 2) * 2));
    assert.equal(al.std, Math.fround(Math.sqrt(al.step * 2)));
  });

  it('draws its noise in the documented order: a list of generators = independent rows (row-wise sampler)', async () => {
    // Ancestral + annealed Langevin treat rows independently, so batch rows equal separate runs.
    const opts = { steps: 10, predictor: 'ancestral', corrector: 'annealed-langevin' } as const;
    const both = await runSampler(
      'pc',
      mixture,
      { ...opts, shape: [2, 2] },
      { generator: [new Generator().manualSeed(1), new Generator().manualSeed(2)] },
    );
    const a = await runSampler('pc', mixture, { ...opts, shape: [1, 2] }, seeded(1));
    const b = await runSampler('pc', mixture, { ...opts, shape: [1, 2] }, seeded(2));
    assert.deepEqual(both.sample.data, Float32Array.from([...a.sample.data, ...b.sample.data]));
  });

  it('reports each step (σ, sample, mean, NFE) and stops with an AbortError', async () => {
    const steps: SamplerStep[] = [];
    const r = await runSampler(
      'pc',
      mixture,
      { shape: [2, 2], steps: 4 },
      { ...seeded(0), onStep: (s) => steps.push(s) },
    );
    assert.deepEqual(
      steps.map((s) => [s.step, s.totalSteps, s.nfe]),
      [
        [0, 4, 2],
        [1, 4, 4],
        [2, 4, 6],
        [3, 4, 8],
      ],
    );
    assert.equal(steps[0].sigma, Math.fround(1348));
    assert.deepEqual(steps[3].sampleMean!.data, r.sample.data);
    const controller = new AbortController();
    await assert.rejects(
      runSampler(
        'pc',
        mixture,
        { shape: [2, 2], steps: 4 },
        { ...seeded(0), signal: controller.signal, onStep: () => controller.abort() },
      ),
      { name: 'AbortError' },
    );
  });
});
