/**
 * ScoreSdeVePipeline against diffusers v0.23.0's own runs (test/fixtures/pipeline): final samples,
 * images and per-step traces, at FIXTURES-README's tolerances.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { PipelineStep, ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { Generator, manualSeed } from '../../src/random/index.js';
import type { Tensor } from '../../src/tensor.js';
import { assertImagesClose, assertRel, fixturePath, fixturePipeline, loadRun } from './helpers.js';

interface Run {
  name: string;
  model: 'tiny-ddpm-test' | 'tiny-ddpm' | 'tiny-ncsnpp';
  steps: number;
  batch: number;
  gen: 'manual_seed' | 'Generator';
  seed: number;
  trace: boolean;
}

/** The stored runs, as the fixture manifest describes them (files[].run). */
const RUNS: Run[] = (
  JSON.parse(readFileSync(fixturePath('pipeline/manifest.json'), 'utf8')) as { files: { run: Run }[] }
).files.map((f) => f.run);

const pipes = new Map<string, ScoreSdeVePipeline>();
before(async () => {
  for (const model of ['tiny-ddpm-test', 'tiny-ddpm', 'tiny-ncsnpp'])
    pipes.set(model, await fixturePipeline(model));
});
after(async () => {
  for (const p of pipes.values()) await p.release();
});

const generatorFor = (run: Run) =>
  run.gen === 'manual_seed' ? manualSeed(run.seed) : new Generator().manualSeed(run.seed);

describe('ScoreSdeVePipeline parity with diffusers v0.23.0', () => {
  it('finds every stored run in the manifest', () => assert.equal(RUNS.length, 11));
  for (const run of RUNS) {
    it(`${run.name}: final sample, images${run.trace ? ' and every step' : ''}`, async (t) => {
      const ref = await loadRun(run.name);
      const steps: PipelineStep[] = [];
      const { images } = await pipes.get(run.model)!.call({
        batchSize: run.batch,
        numInferenceSteps: run.steps,
        generator: generatorFor(run),
        outputType: 'np',
        onStep: (s) => steps.push(s),
      });
      // README "Tolerances": unclamped final rel 1e-5 up to 10 steps, 5e-5 at 100.
      const tol = run.steps <= 10 ? 1e-5 : 5e-5;
      assert.equal(steps.length, run.steps);
      steps.forEach((s, i) => {
        assert.equal(s.step, i);
        assert.equal(s.totalSteps, run.steps);
        const sigmaT = ref.get(`trace/step${String(i).padStart(3, '0')}/sigma_t`)!;
        for (const v of sigmaT.data)
          assert.ok(Math.abs(s.sigma - Number(v)) <= 3e-7 * Number(v), `step ${i} σ`);
        if (run.trace) {
          const key = (k: string) => ref.get(`trace/step${String(i).padStart(3, '0')}/${k}`)!;
          assertRel(s.sample, key('prev_sample'), tol, `step ${i} prev_sample`);
          assertRel(s.sampleMean, key('prev_sample_mean'), tol, `step ${i} prev_sample_mean`);
        }
      });
      const last = steps[steps.length - 1];
      const rel = assertRel(
        last.sampleMean,
        ref.get('final_prev_sample_mean_unclamped')!,
        tol,
        'final prev_sample_mean',
      );
      t.diagnostic(`final prev_sample_mean rel ${rel.toExponential(2)}`);
      assertRel(last.sample, ref.get('final_prev_sample')!, tol, 'final prev_sample');
      assertImagesClose(images, ref.get('images')!);
    });
  }

  it('gives diffusers 8-bit PIL images exactly (tiny-ncsnpp, 10 steps)', async () => {
    const ref = await loadRun('tiny-ncsnpp_N10_b1_generator0');
    const { images } = await pipes.get('tiny-ncsnpp')!.call({
      numInferenceSteps: 10,
      generator: new Generator().manualSeed(0),
    });
    assert.equal(images.length, 1);
    assert.equal(images[0].width, 32);
    assert.equal(images[0].height, 32);
    assert.deepEqual(images[0].data, ref.get('images_pil_uint8')!.data);
  });
});

describe("diffusers' fast test (ScoreSdeVeipelineFastTests::test_inference)", () => {
  it('gives the expected slice, with and without returnDict', async () => {
    const pipe = pipes.get('tiny-ddpm-test')!;
    const { images } = await pipe.call({ numInferenceSteps: 2, outputType: 'np', generator: manualSeed(0) });
    const [fromTuple] = await pipe.call({
      numInferenceSteps: 2,
      outputType: 'np',
      generator: manualSeed(0),
      returnDict: false,
    });
    const slice = (im: Tensor) => {
      // image[0, -3:, -3:, -1] of a (1, 32, 32, 3) array
      const out: number[] = [];
      for (let y = 29; y < 32; y++)
        for (let x = 29; x < 32; x++) out.push(Number(im.data[(y * 32 + x) * 3 + 2]));
      return out;
    };
    assert.deepEqual(images.dims, [1, 32, 32, 3]);
    const expected = [0, 1, 0, 0, 0, 1, 0, 0, 0];
    for (const got of [slice(images), slice(fromTuple)]) {
      for (const [i, v] of got.entries())
        assert.ok(Math.abs(v - expected[i]) < 1e-2, `slice ${got} vs ${expected}`);
    }
  });
});
