/** `scoresde evaluate`, run in-process on the fixture data, a tiny random classifier and the tiny score model. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/run.js';
import { readImages } from '../../src/data/read-images.js';
import { initClassifierParameters } from '../../src/evaluation/classifier/train.js';
import { openFashionMnist } from '../../src/evaluation/fashion-mnist.js';
import { encodePNG } from '../../src/io/png.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { configToJson, resolveUnetConfig } from '../../src/models/unet-2d/config.js';
import { randomStateDict } from '../../src/models/unet-2d/random-init.js';
import { trainingScheduler, writePipelineFolder } from '../../src/training/pipeline-folder.js';
import { MICRO_CONFIG } from '../training/helpers.js';
import { TINY_CLASSIFIER } from './helpers.js';

const fixture = (rel: string) => fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url));
const data = fixture('fashion-mnist');
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-evaluate-'));
const classifierDir = join(tmp, 'classifier');
after(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  };
  const code = await runCli(['evaluate', ...args], io);
  return { code, stdout, stderr };
}

describe('scoresde evaluate', () => {
  before(async () => {
    const config = TINY_CLASSIFIER;
    mkdirSync(classifierDir, { recursive: true });
    writeFileSync(join(classifierDir, 'config.json'), JSON.stringify(config));
    await saveSafetensors(join(classifierDir, 'model.safetensors'), initClassifierParameters(config, 3));
  });

  it('prints its help (≤ 80 columns) and is listed in the main help', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: scoresde evaluate \[--model/);
    for (const line of r.stdout.split('\n')) assert.ok([...line].length <= 80, line);
    let main = '';
    await runCli(['--help'], {
      stdout: { write: (s: string) => (main += s) },
      stderr: { write: () => true },
    });
    assert.match(main, /^ {2}evaluate {3}/m);
  });

  it('evaluates a folder of PNGs (grids skipped) and writes the JSON report', async () => {
    const dir = join(tmp, 'pngs');
    mkdirSync(dir);
    const { test } = await openFashionMnist(data);
    const pixels = await readImages(test, 0, 12);
    for (let i = 0; i < 12; i++) {
      const bytes = Uint8Array.from(pixels.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255));
      writeFileSync(
        join(dir, `sample-0-${i}.png`),
        encodePNG({ width: 28, height: 28, channels: 1, data: bytes }),
      );
    }
    writeFileSync(
      join(dir, 'sample-0-grid.png'),
      encodePNG({ width: 2, height: 2, channels: 1, data: new Uint8Array(4) }),
    );
    const out = join(tmp, 'report.json');
    const r = await cli([
      '--samples',
      dir,
      '--data',
      data,
      '--classifier',
      classifierDir,
      '--out',
      out,
      '-q',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Fréchet distance .*12 images vs 256 test images/);
    // 12 images cannot rank anything: the report says so, with the floor at that count.
    const floor = /floor \(train vs test\) +([\d.]+) /.exec(r.stdout)![1];
    assert.match(
      r.stdout,
      new RegExp(
        `\\nNote: 12 images are too few to rank models; below 1000 these numbers are only indicative \\(the floor, what real images score at this count, is ${floor}:`,
      ),
    );
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(report.count, 12);
    assert.equal(report.referenceCount, 256);
    assert.ok(Number.isFinite(report.frechetDistance) && Number.isFinite(report.floorFrechetDistance));
    // These are test images: their nearest-training distances are the test images' own.
    assert.deepEqual(report.nearestTrain, report.testNearestTrain);
    assert.equal(report.samples, dir);
  });

  it('samples a model in batches and evaluates the samples', async () => {
    const r = await cli([
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--count',
      '3',
      '--batch-size',
      '2',
      '--sampler',
      'dpmpp-2m',
      '--steps',
      '2',
      '--data',
      data,
      '--classifier',
      classifierDir,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /3 samples vs 256 test images/);
    assert.match(r.stdout, /2 network calls per image/);
    // A 3×32×32 model has no per-σ table against 1×28×28 data, and says why.
    assert.match(r.stdout, /no per-σ denoiser table: the model makes 3×32×32 images, the data are 1×28×28/);
  });

  it('reports the per-σ denoiser table of a 1×28×28 model against the mean image and the Gaussian denoiser', async () => {
    const cfg = resolveUnetConfig({ ...MICRO_CONFIG, sample_size: 28 });
    const weights = new Map<string, Float32Array>();
    const shapes = new Map<string, readonly number[]>();
    for (const [k, t] of randomStateDict(cfg, 1)) {
      weights.set(k, t.data as Float32Array);
      shapes.set(k, t.dims);
    }
    const model = join(tmp, 'micro-28');
    await writePipelineFolder(
      model,
      configToJson(cfg),
      weights,
      shapes,
      trainingScheduler(undefined, 0.01, 50),
    );
    const out = join(tmp, 'denoiser.json');
    const r = await cli([
      ...['--model', model, '--count', '2', '--sampler', 'dpmpp-2m', '--steps', '2'],
      ...['--denoiser-count', '6', '--data', data, '--classifier', classifierDir, '--out', out, '-q'],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Per-σ denoiser, 6 test images:/);
    assert.match(r.stdout, /\| 50 \| .* \| .* \| .* \| .* \|/);
    const { denoiser } = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(
      denoiser.rows.map((x: { sigma: number }) => x.sigma),
      [50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.01],
    );
    // The mean image's error is one number; the Gaussian denoiser beats it at every σ, and tends to the
    // identity's σ² at small σ (nothing to shrink when σ² ≪ the variances). 256 training images < 2·784:
    // a low-rank fit, its residual variance spread over the other directions.
    const first = denoiser.rows[0];
    for (const x of denoiser.rows) {
      assert.equal(x.meanImage, first.meanImage);
      assert.ok(x.gaussian < x.meanImage, `σ ${x.sigma}`);
      assert.ok(Math.abs(x.ratio - x.model / x.gaussian) < 1e-12);
    }
    const smallest = denoiser.rows.at(-1);
    assert.ok(
      smallest.gaussian < 1.1 * 0.01 ** 2 && smallest.gaussian > 0.5 * 0.01 ** 2,
      `σ 0.01: ${smallest.gaussian}`,
    );
    assert.equal(denoiser.gaussianKind, 'low-rank');
    // An untrained network is far worse than the Gaussian denoiser: not ready for deterministic samplers.
    assert.equal(denoiser.beatsGaussianEverywhere, false);
    assert.match(r.stdout, /worse than the Gaussian one up to σ = 50/);
  });

  it('checks its inputs and output before any work', async () => {
    writeFileSync(join(tmp, 'a-file'), '');
    const common = ['--data', data, '--classifier', classifierDir];
    const badOut = await cli(['--samples', tmp, ...common, '--out', join(tmp, 'a-file', 'r.json')]);
    assert.equal(badOut.code, 1);
    assert.match(badOut.stderr, /--out .*a-file: exists and is not a folder/);
    const empty = await cli(['--samples', tmp, ...common]);
    assert.equal(empty.code, 1);
    assert.equal(empty.stderr, `scoresde: ${tmp}: need at least 2 PNG images, found 0\n`);
    const noData = await cli([
      '--samples',
      tmp,
      '--data',
      join(tmp, 'nothing'),
      '--classifier',
      classifierDir,
    ]);
    assert.equal(noData.code, 1);
    assert.match(noData.stderr, /nothing: not a folder/);
    const noClassifier = await cli(['--samples', tmp, '--data', data, '--classifier', tmp]);
    assert.equal(noClassifier.code, 1);
    assert.match(noClassifier.stderr, /--classifier .*config\.json: no such file or folder/);
  });
});
