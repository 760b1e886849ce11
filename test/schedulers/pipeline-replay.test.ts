/**
 * The scheduler inside real ScoreSdeVePipeline runs (fixtures pipeline/*, diffusers v0.23.0): every traced step is
 * replayed with the stored model outputs and noises, so the UNet and the RNG are out of the picture. Each corrector
 * and predictor output must be bit-exact. This is what pins down torch's FMA in the norm of step_correct (an unfused
 * sum of squares is off by an ulp in the step size of tiny-ncsnpp_N10_b1_generator0).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSafetensors } from '../../src/io/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { Tensor } from '../../src/tensor.js';
import { assertExact, FIXTURES } from './helpers.js';

const PIPELINE = join(FIXTURES, 'pipeline');

describe('scheduler replay of traced pipeline runs', () => {
  // The diffusers runs the manifest lists (other files in the folder are not traced pipeline runs).
  const manifest = JSON.parse(readFileSync(join(PIPELINE, 'manifest.json'), 'utf8')) as {
    files: { file: string }[];
  };
  const files = manifest.files.map((f) => f.file);
  it('finds the fixture runs', () => assert.ok(files.length >= 10, `${files.length} pipeline fixtures`));

  for (const name of files) {
    it(name, async (t) => {
      const tensors = (await loadSafetensors(join(PIPELINE, name))).tensors;
      const get = (key: string): Tensor<'float32'> => {
        const v = tensors.get(key);
        assert.ok(v && v.dtype === 'float32', `${name}: ${key}`);
        return v as Tensor<'float32'>;
      };
      const steps = Number(/_N(\d+)_/.exec(name)?.[1]);
      assert.ok(steps > 0, `step count in ${name}`);
      const s = new ScoreSdeVeScheduler();
      s.setTimesteps(steps);
      s.setSigmas(steps);
      // The UNet's timestep input is sigmas[i] for every row, in every run (traced or not).
      for (let i = 0; i < steps; i++) {
        const sigmaT = get(`trace/step${String(i).padStart(3, '0')}/sigma_t`).data;
        for (const v of sigmaT) assert.equal(v, s.sigmas.data[i], `${name} step ${i} sigma_t`);
      }
      if (!tensors.has('trace/step000/after_correct')) {
        t.diagnostic('no per-step trace in this run; sigma_t checked only');
        return;
      }
      // sample = randn * init_noise_sigma
      const init = get('init_noise');
      let x = new Tensor(
        'float32',
        init.data.map((v) => v * s.initNoiseSigma),
        init.dims,
      );
      for (let i = 0; i < steps; i++) {
        const p = `trace/step${String(i).padStart(3, '0')}/`;
        const corrected = s.stepCorrect(get(`${p}correct_model_output`), x, {
          noise: get(`${p}correct_noise`),
        });
        assertExact(corrected.prevSample.data, get(`${p}after_correct`).data, `${name} ${p}after_correct`);
        const out = s.stepPred(get(`${p}pred_model_output`), s.timesteps.data[i], get(`${p}after_correct`), {
          noise: get(`${p}pred_noise`),
        });
        assertExact(
          out.prevSampleMean.data,
          get(`${p}prev_sample_mean`).data,
          `${name} ${p}prev_sample_mean`,
        );
        assertExact(out.prevSample.data, get(`${p}prev_sample`).data, `${name} ${p}prev_sample`);
        x = get(`${p}prev_sample`);
      }
      assertExact(x.data, get('final_prev_sample').data, `${name} final_prev_sample`);
    });
  }
});
