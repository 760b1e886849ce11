/**
 * The random stream of whole ScoreSdeVePipeline runs (test/fixtures/pipeline): the initial noise,
 * then per step the corrector noise and the predictor noise, all randn_tensor((B, 3, S, S)) from one
 * generator (torch.manual_seed(s) or torch.Generator().manual_seed(s)), bit for bit (AVX2 path).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { Generator, manualSeed, randnTensor } from '../../src/random/index.js';
import { assertBitEqual } from './fixture-helpers.js';

const PIPELINE = fileURLToPath(new URL('../fixtures/pipeline/', import.meta.url));

interface Run {
  file: string;
  run: {
    name: string;
    steps: number;
    batch: number;
    gen: 'manual_seed' | 'Generator';
    seed: number;
    trace: boolean;
  };
  tensors: Record<string, { shape: number[] }>;
}
const runs = (JSON.parse(readFileSync(`${PIPELINE}manifest.json`, 'utf8')) as { files: Run[] }).files;

describe('pipeline noise streams', () => {
  it('the manifest lists runs with traced noise', () => {
    assert.ok(runs.filter((r) => r.run.trace).length >= 5);
  });

  for (const { file, run, tensors } of runs) {
    it(`${run.name}: init noise${run.trace ? ` and ${2 * run.steps} step noises` : ''}`, async () => {
      const ref = (await loadSafetensors(`${PIPELINE}${file}`)).tensors;
      const dims = tensors.init_noise.shape;
      const generator =
        run.gen === 'manual_seed'
          ? manualSeed(run.seed)
          : new Generator({ path: 'avx2' }).manualSeed(run.seed);
      // the global generator's path follows ATEN_CPU_CAPABILITY; these runs used the AVX2 dispatch
      const draw = () => randnTensor(dims, { generator, path: 'avx2' });
      assertBitEqual(draw(), ref.get('init_noise')!, `${run.name} init_noise`);
      if (!run.trace) return;
      for (let step = 0; step < run.steps; step++) {
        const prefix = `trace/step${String(step).padStart(3, '0')}`;
        assertBitEqual(draw(), ref.get(`${prefix}/correct_noise`)!, `${run.name} ${prefix}/correct_noise`);
        assertBitEqual(draw(), ref.get(`${prefix}/pred_noise`)!, `${run.name} ${prefix}/pred_noise`);
      }
    });
  }
});
