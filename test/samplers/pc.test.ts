/**
 * Predictor–corrector samplers: the diffusers default against ScoreSdeVeScheduler's own loop (bit for bit),
 * every predictor × corrector pair on an analytic mixture, and the update formulas of the Score SDE paper.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { Generator, manualSeed } from '../../src/random/index.js';
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

const PIPELINE = fileURLToPath(new URL('../fixtures/pipeline/', import.meta.url));
const MANIFEST: {
  files: { run: { name: string; steps: number; batch: number; gen: string; seed: number; trace: boolean } }[];
} = JSON.parse(readFileSync(join(PIPELINE, 'manifest.json'), 'utf8'));

/**
 * A score function that replays a traced diffusers run: it checks that it is called with diffusers' sample and
 * σ, in diffusers' order (per step: corrector, then predictor), and returns the UNet output diffusers got.
 */
function replayScore(ref: Map<string, Tensor>, steps: number): ScoreFn {
  let call = 0;
  return async (x, sigma) => {
    const i = call >> 1;
    const p = `trace/step${String(i).padStart(3, '0')}/`;
    const get = (k: string) => ref.get(p + k) as Tensor<'float32'>;
    assert.ok(i < steps, `call ${call} beyond ${steps} steps`);
    assert.deepEqual(sigma, get('sigma_t').data, `${p}sigma_t`);
    const corrector = call % 2 === 0;
    const expected = corrector
      ? i === 0
        ? undefined
        : ref.get(`trace/step${String(i - 1).padStart(3, '0')}/prev_sample`)
      : get('after_correct');
    if (expected)
      assert.deepEqual(x.data, expected.data, `${p}${corrector ? 'corrector' : 'predictor'} input`);
    call++;
    return get(corrector ? 'correct_model_output' : 'pred_model_output');
  };
}

describe('predictor–corrector sampling', () => {
  for (const { run } of MANIFEST.files.filter((f) => f.run.trace)) {
    it(`the default (reverse diffusion + Langevin) replays diffusers' ${run.name} bit for bit`, async () => {
      const ref = (await loadSafetensors(join(PIPELINE, `${run.name}.safetensors`))).tensors;
      const final = ref.get('final_prev_sample_mean_unclamped')!;
      const generator =
        run.gen === 'manual_seed' ? manualSeed(run.seed) : new Generator().manualSeed(run.seed);
      const r = await runSampler(
        'pc',
        replayScore(ref, run.steps),
        { shape: final.dims, steps: run.steps },
        { generator },
      );
      assert.equal(r.nfe, 2 * run.steps);
      assert.deepEqual(r.sample.data, final.data);
    });
  }

  it('takes σ range, snr and corrector steps from its options (σ schedule and network calls)', async () => {
    const cfg = { sigmaMax: 380, snr: 0.075, correctSteps: 2 };
    const sigmas: number[] = [];
    const score: ScoreFn = async (x, s) => {
      sigmas.push(s[0]);
      return mixture(x, s);
    };
    const r = await runSampler('pc', score, { shape: [3, 2], steps: 20, ...cfg }, seeded(12));
    assert.equal(r.nfe, 60);
    const scheduler = new ScoreSdeVeScheduler(cfg);
    scheduler.setTimesteps(20);
    scheduler.setSigmas(20);
    assert.deepEqual(
      sigmas,
      [...scheduler.sigmas.data].flatMap((s) => [s, s, s]),
    );
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
