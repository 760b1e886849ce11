/**
 * train()'s per-σ denoiser log (diagnoseEvery) and the σ allocation option: the logged table is the one
 * perSigmaReport gives for the published EMA weights on the same images; a run with another allocation
 * records it and resumes with it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openImageDataset } from '../../src/data/index.js';
import {
  diagnosticSigmas,
  fitDatasetGaussian,
  perSigmaReport,
  unetDenoiser,
} from '../../src/diagnostics/index.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { train } from '../../src/training/train.js';
import { MICRO_CONFIG, writeStripeImages } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'scoresde-diagnose-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const data = writeStripeImages(join(tmp, 'images'), 6);
const common = {
  config: { ...MICRO_CONFIG },
  data,
  batchSize: 2,
  lr: 2e-3,
  warmup: 1,
  seed: 1,
  sigmaMax: 40,
};

test('diagnoseEvery logs the EMA weights’ per-σ table on a fixed batch, as perSigmaReport measures it', async () => {
  const out = join(tmp, 'run');
  const seen: number[] = [];
  await train({ ...common, out, steps: 2, diagnoseEvery: 1, onDiagnostic: (step) => seen.push(step) });
  assert.deepEqual(seen, [1, 2]);
  const records = readFileSync(join(out, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const tables = records.filter((r) => r.denoiser);
  assert.deepEqual(
    tables.map((r) => r.step),
    [1, 2],
  );
  const last = tables[1];
  // An image folder has no test split: the first training images, said so.
  assert.equal(last.held_out, false);
  assert.equal(last.images, 6);
  // Recompute from the published (EMA) weights of step 2 on the same images and Gaussian.
  const ds = await openImageDataset(data, { channels: 1, height: 8, width: 8 });
  const images = new Float32Array(6 * 64);
  for (let i = 0; i < 6; i++) await ds.read(i, images, i * 64);
  const unet = await UNet2DModel.fromPretrained(join(out, 'unet'));
  try {
    const want = await perSigmaReport({
      denoise: unetDenoiser(unet),
      images,
      imageShape: [1, 8, 8],
      statistics: await fitDatasetGaussian(ds),
      sigmas: diagnosticSigmas(0.01, 40),
    });
    assert.deepEqual(
      last.denoiser.map((r: { sigma: number }) => r.sigma),
      want.rows.map((r) => r.sigma),
    );
    last.denoiser.forEach((r: { model: number; gaussian: number }, i: number) => {
      assert.ok(Math.abs(r.model / want.rows[i].model - 1) < 1e-5, `σ ${want.rows[i].sigma}`);
      assert.ok(Math.abs(r.gaussian / want.rows[i].gaussian - 1) < 1e-9);
    });
  } finally {
    await unet.release();
  }
});

test('IDX data: the log measures the held-out test split, and a resumed run (which knows its data by the training file) keeps it', async () => {
  const out = join(tmp, 'idx');
  const idx = fileURLToPath(new URL('../fixtures/fashion-mnist', import.meta.url));
  const base = { ...common, config: { ...MICRO_CONFIG, sample_size: 28 }, data: idx, out, diagnoseEvery: 1 };
  await train({ ...base, steps: 1 });
  await train({ out, resume: true, steps: 2, diagnoseEvery: 1 });
  const tables = readFileSync(join(out, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.denoiser);
  assert.deepEqual(
    tables.map((r) => [r.step, r.held_out, r.source.replace(/^.*\//, '')]),
    [
      [1, true, 't10k-images-idx3-ubyte.gz'],
      [2, true, 't10k-images-idx3-ubyte.gz'],
    ],
  );
});

test('sigmaSampling is a trajectory option: saved, kept on resume, and a different one refused', async () => {
  const out = join(tmp, 'edm');
  await train({ ...common, out, steps: 1, sigmaSampling: 'edm' });
  const manifest = JSON.parse(readFileSync(join(out, 'training_state/manifest.json'), 'utf8'));
  const info = JSON.parse(readFileSync(join(out, 'training_state', manifest.current, 'state.json'), 'utf8'));
  assert.equal(info.options.sigmaSampling, 'edm');
  await assert.rejects(
    train({ out, resume: true, steps: 2, sigmaSampling: 'log-uniform' }),
    /sigmaSampling "log-uniform" differs from the resumed run's "edm"/,
  );
  const r = await train({ out, resume: true, steps: 2 });
  assert.equal(r.step, 2);
  // The allocation changes the draws, so the run differs from the default one.
  const plain = join(tmp, 'plain');
  await train({ ...common, out: plain, steps: 1 });
  const loss = (dir: string) =>
    JSON.parse(readFileSync(join(dir, 'train_log.jsonl'), 'utf8').split('\n')[0]).loss;
  assert.notEqual(loss(out), loss(plain));
});
