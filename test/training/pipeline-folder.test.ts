/** A run's published folder is a diffusers pipeline folder that ScoreSdeVePipeline.fromPretrained loads. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { trainingScheduler, writePipelineFolder } from '../../src/training/pipeline-folder.js';

const MODEL = fileURLToPath(new URL('../fixtures/models/tiny-ncsnpp/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-folder-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('writePipelineFolder: model_index.json, unet/ with the given weights, scheduler/ with the σ range', async () => {
  const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
  const sd = (await loadSafetensors(join(MODEL, 'diffusion_pytorch_model.safetensors'))).tensors;
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of sd) {
    if (k === 'time_proj.W') continue;
    // Stand-in for EMA weights: anything but the originals.
    weights.set(
      k,
      (t.data as Float32Array).map((v) => v * 0.5),
    );
    shapes.set(k, t.dims);
  }
  const dir = join(tmp, 'run');
  await writePipelineFolder(dir, config, weights, shapes, trainingScheduler({ snr: 0.2 }, 0.02, 60));
  for (const f of [
    'model_index.json',
    'unet/config.json',
    'unet/diffusion_pytorch_model.safetensors',
    'scheduler/scheduler_config.json',
  ])
    assert.ok(existsSync(join(dir, f)), f);
  const pipe = await ScoreSdeVePipeline.fromPretrained(dir);
  try {
    assert.equal(pipe.scheduler.config.sigma_min, 0.02);
    assert.equal(pipe.scheduler.config.sigma_max, 60);
    assert.equal(pipe.scheduler.config.snr, 0.2);
    const back = pipe.unet.stateDict();
    for (const [k, v] of weights) assert.deepEqual(back.get(k)!.data, v, k);
    // diffusers 0.23 writes time_proj.W beside time_proj.weight for fourier models.
    assert.deepEqual(back.get('time_proj.W')!.data, weights.get('time_proj.weight'));
  } finally {
    await pipe.release();
  }
});
