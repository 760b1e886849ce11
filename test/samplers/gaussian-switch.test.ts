/**
 * The Gaussian safety net (gaussianAbove): rows above the switch σ get the Gaussian's closed-form score, the
 * others the network's; every sampler takes it through the one option table; a pipeline finds the
 * statistics in its model folder. The noise-norm correction (gaussianNormAbove) keeps the network's direction
 * and takes the Gaussian score's norm, through the same table.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  fitGaussian,
  type GaussianStatistics,
  gaussianScore,
  saveGaussian,
} from '../../src/diagnostics/index.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { Generator, randn } from '../../src/random/index.js';
import { gaussianNormScore, gaussianSwitchScore } from '../../src/samplers/gaussian-switch.js';
import { networkCalls, networkCallsWith, runSampler, SAMPLER_NAMES } from '../../src/samplers/index.js';
import type { ScoreFn } from '../../src/samplers/types.js';
import { Tensor } from '../../src/tensor.js';

const D = 16; // 1×4×4
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-gauss-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function statistics(): Promise<GaussianStatistics> {
  const x = randn([200, D], { generator: new Generator().manualSeed(4) }).data as Float32Array;
  const data = x.map((v, i) => 0.5 + 0.2 * v + 0.1 * Math.sin(i % D));
  return fitGaussian((i, out) => out.set(data.subarray(i * D, (i + 1) * D)), 200, D);
}

/** A stand-in network whose score is a constant, to tell its rows from the Gaussian's. */
const constantScore =
  (c: number): ScoreFn =>
  async (x) =>
    new Tensor('float32', new Float32Array(x.data.length).fill(c), x.dims);

test('rows above the switch σ take the Gaussian score exactly; rows at or below it the network', async () => {
  const g = await statistics();
  const x = new Tensor(
    'float32',
    randn([3, 1, 4, 4], { generator: new Generator().manualSeed(1) }).data as Float32Array,
    [3, 1, 4, 4],
  );
  const sigma = Float32Array.from([10, 2, 2.5]);
  const out = await gaussianSwitchScore(constantScore(7), g, 2)(x, sigma);
  assert.deepEqual([...out.data.subarray(D, 2 * D)], new Array(D).fill(7), 'σ = 2 is not above 2');
  for (const r of [0, 2]) {
    const want = gaussianScore(g, x.data.subarray(r * D, (r + 1) * D), sigma[r]);
    assert.deepEqual([...out.data.subarray(r * D, (r + 1) * D)], [...want], `row ${r}`);
  }
  // All rows above: the network is not called.
  let calls = 0;
  const counting: ScoreFn = async (y, s) => {
    calls++;
    return constantScore(0)(y, s);
  };
  await gaussianSwitchScore(counting, g, 1)(x, Float32Array.from([5, 5, 5]));
  assert.equal(calls, 0);
});

test('every sampler takes gaussianAbove: below σ_min it is the Gaussian sampler, above σ_max the network', async () => {
  const g = await statistics();
  const gaussianOnly: ScoreFn = async (x, sigma) => {
    const out = new Float32Array(x.data.length);
    for (let r = 0; r < x.dims[0]; r++)
      out.set(gaussianScore(g, x.data.subarray(r * D, (r + 1) * D), sigma[r]), r * D);
    return new Tensor('float32', out, x.dims);
  };
  const settings = { shape: [2, 1, 4, 4], sigmaMin: 0.01, sigmaMax: 20, steps: 6, rtol: 1e-3, atol: 1e-3 };
  for (const name of SAMPLER_NAMES) {
    const opts = Object.fromEntries(
      Object.entries(settings)
        .filter(([k]) => k !== 'steps' || name !== 'ode')
        .filter(([k]) => !['rtol', 'atol'].includes(k) || name === 'ode'),
    ) as typeof settings;
    const run = (score: ScoreFn, extra = {}) =>
      runSampler(name, score, { ...opts, ...extra }, { generator: new Generator().manualSeed(3) });
    const viaSwitch = await run(constantScore(0.3), { gaussianAbove: 0.001, gaussian: g });
    const direct = await run(gaussianOnly);
    assert.deepEqual([...viaSwitch.sample.data], [...direct.sample.data], `${name}: all-Gaussian`);
    const off = await run(constantScore(0.3), { gaussianAbove: 1000, gaussian: g });
    const plain = await run(constantScore(0.3));
    assert.deepEqual([...off.sample.data], [...plain.sample.data], `${name}: never switched`);
  }
  await assert.rejects(
    runSampler('heun', constantScore(0), { shape: [1, 1, 4, 4], gaussianAbove: 5 }),
    /gaussianAbove needs the training data's Gaussian/,
  );
});

test('nfe counts network calls: steps the Gaussian answers alone are free, in the result and in onStep', async () => {
  const g = await statistics();
  let calls = 0;
  const counting: ScoreFn = async (x, s) => {
    calls++;
    return constantScore(0)(x, s);
  };
  const shape = [1, 1, 4, 4];
  const steps: number[] = [];
  const onStep = (s: { nfe: number }) => steps.push(s.nfe);
  const plain = await runSampler('heun', counting, { shape, steps: 8 }, { onStep });
  assert.equal(plain.nfe, calls);
  calls = 0;
  steps.length = 0;
  const switched = await runSampler(
    'heun',
    counting,
    { shape, steps: 8, gaussianAbove: 5, gaussian: g },
    { onStep },
  );
  assert.equal(switched.nfe, calls);
  assert.ok(calls > 0 && calls < plain.nfe, `${calls} network calls of ${plain.nfe} evaluations`);
  assert.equal(steps.at(-1), calls);
  assert.equal(steps[0], 0, 'the first step lies above σ = 5: no network call yet');
  // The count a CLI reports before sampling (info, the first-run bench) is the one sampling makes.
  assert.equal(await networkCallsWith('heun', { steps: 8, gaussianAbove: 5 }), calls);
  assert.equal(await networkCallsWith('heun', { steps: 8 }), networkCalls('heun', 8, 1));
  assert.equal(await networkCallsWith('ode', { gaussianAbove: 5 }), undefined);
});

test("a pipeline loads its folder's gaussian.safetensors and passes it to the samplers", async () => {
  const dir = join(tmp, 'model');
  cpSync(fileURLToPath(new URL('../fixtures/likelihood/tiny-fourier-1x4x4', import.meta.url)), dir, {
    recursive: true,
  });
  const bare = await ScoreSdeVePipeline.fromPretrained(dir);
  bare.setProgressBarConfig({ disable: true });
  assert.equal(bare.gaussian, undefined);
  await assert.rejects(
    bare.call({
      sampler: 'heun',
      numInferenceSteps: 3,
      samplerOptions: { gaussianAbove: 1 },
      outputType: 'np',
    }),
    /gaussianAbove needs the training data's Gaussian/,
  );
  await bare.release();
  const g = await statistics();
  await saveGaussian(join(dir, 'gaussian.safetensors'), g);
  const pipe = await ScoreSdeVePipeline.fromPretrained(dir);
  pipe.setProgressBarConfig({ disable: true });
  try {
    assert.equal(pipe.gaussian?.dim, D);
    const call = (gaussianAbove?: number) =>
      pipe.call({
        sampler: 'dpmpp-2m',
        numInferenceSteps: 4,
        batchSize: 2,
        generator: new Generator().manualSeed(0),
        samplerOptions: gaussianAbove === undefined ? {} : { gaussianAbove },
        outputType: 'np',
      });
    const plain = (await call()).images as Tensor<'float32'>;
    const netted = (await call(0.5)).images as Tensor<'float32'>;
    const normed = (
      await pipe.call({
        sampler: 'dpmpp-2m',
        numInferenceSteps: 4,
        batchSize: 2,
        generator: new Generator().manualSeed(0),
        samplerOptions: { gaussianNormAbove: 0.5 },
        outputType: 'np',
      })
    ).images as Tensor<'float32'>;
    assert.notDeepEqual([...normed.data], [...plain.data]);
    const unused = (await call(1e6)).images as Tensor<'float32'>;
    assert.deepEqual([...unused.data], [...plain.data]);
    assert.notDeepEqual([...netted.data], [...plain.data]);
  } finally {
    await pipe.release();
  }
});

/** The Gaussian's score of each row of x at its σ. */
function gaussianRows(g: GaussianStatistics, x: Tensor<'float32'>, sigma: ArrayLike<number>) {
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < x.dims[0]; r++)
    out.set(gaussianScore(g, x.data.subarray(r * D, (r + 1) * D), sigma[r]), r * D);
  return out;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, a) => s + a * a, 0));

test("gaussianNormAbove: rows above the switch keep the network's direction with the Gaussian score's norm", async () => {
  const g = await statistics();
  const gen = new Generator().manualSeed(6);
  const x = randn([3, 1, 4, 4], { generator: gen }) as Tensor<'float32'>;
  const netOut = randn([3, 1, 4, 4], { generator: gen }).data as Float32Array;
  const network: ScoreFn = async (y) => new Tensor('float32', netOut.slice(), y.dims);
  const sigma = Float32Array.from([10, 2, 2.5]);
  const out = await gaussianNormScore(network, g, 2)(x, sigma);
  const want = gaussianRows(g, x, sigma);
  assert.deepEqual([...out.data.subarray(D, 2 * D)], [...netOut.subarray(D, 2 * D)], 'σ = 2 is not above 2');
  for (const r of [0, 2]) {
    const row = out.data.subarray(r * D, (r + 1) * D);
    const own = netOut.subarray(r * D, (r + 1) * D);
    const n = norm(row);
    assert.ok(Math.abs(n / norm(want.subarray(r * D, (r + 1) * D)) - 1) < 1e-6, `row ${r}: norm`);
    const cosine = Array.from(row).reduce((s, v, i) => s + v * own[i], 0) / (n * norm(own));
    assert.ok(Math.abs(cosine - 1) < 1e-6, `row ${r}: direction`);
  }
  assert.throws(() => gaussianNormScore(network, g, 0), /gaussianNormAbove must be a finite σ > 0/);
});

test('every sampler takes gaussianNormAbove: a network 1.7× the Gaussian score samples as the Gaussian does', async () => {
  const g = await statistics();
  const scaled =
    (c: number): ScoreFn =>
    async (x, sigma) =>
      new Tensor(
        'float32',
        gaussianRows(g, x as Tensor<'float32'>, sigma).map((v) => c * v),
        x.dims,
      );
  const settings = { shape: [2, 1, 4, 4], sigmaMin: 0.01, sigmaMax: 20, steps: 6 };
  for (const name of SAMPLER_NAMES) {
    const opts = name === 'ode' ? { ...settings, steps: undefined, rtol: 1e-3, atol: 1e-3 } : settings;
    const run = (score: ScoreFn, extra = {}) =>
      runSampler(name, score, { ...opts, ...extra }, { generator: new Generator().manualSeed(3) });
    const direct = (await run(scaled(1))).sample.data;
    const corrected = (await run(scaled(1.7), { gaussianNormAbove: 0.001, gaussian: g })).sample.data;
    const uncorrected = (await run(scaled(1.7))).sample.data;
    const gap = (a: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - direct[i])));
    assert.ok(gap(corrected) < 1e-3 * Math.max(1, norm(direct)), `${name}: corrected ${gap(corrected)}`);
    assert.ok(gap(uncorrected) > 100 * gap(corrected), `${name}: the 1.7× network alone differs`);
    // Above gaussianAbove the Gaussian's score takes over whole, with or without the correction below it.
    const both = await run(scaled(1.7), { gaussianNormAbove: 1000, gaussianAbove: 0.001, gaussian: g });
    assert.deepEqual([...both.sample.data], [...direct], `${name}: gaussianAbove wins above its σ`);
  }
  await assert.rejects(
    runSampler('heun', scaled(1), { shape: [1, 1, 4, 4], gaussianNormAbove: 5 }),
    /gaussianNormAbove needs the training data's Gaussian/,
  );
});
