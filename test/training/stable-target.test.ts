/**
 * Stable Target Field (stable-target.ts) against exact posterior means, and its wiring into train(): the
 * network's input is unchanged, the target is the reference batch's posterior mean, a run resumes bit for bit
 * and keeps its reference batch.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Generator, randn } from '../../src/random/index.js';
import { StableTargets } from '../../src/training/stable-target.js';
import { train } from '../../src/training/train.js';
import { MICRO_CONFIG, writeStripeImages } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'scoresde-stf-'));
const graphs = new Map<number, StableTargets>();
after(async () => {
  rmSync(tmp, { recursive: true, force: true });
  for (const g of graphs.values()) await g.release();
});
/** STF's targets for images of d values. */
async function stableTargets(
  ...args: [Float32Array, Float32Array, Float32Array, { data: Float32Array; count: number }]
) {
  const d = args[0].length / args[2].length;
  if (!graphs.has(d)) graphs.set(d, await StableTargets.create(d, 1));
  return graphs.get(d)!.targets(...args);
}

test('two reference points ±1: the target is the exact posterior mean tanh(x/σ²), and x0 + σz is kept', async () => {
  const refs = { data: Float32Array.of(1, -1), count: 2 };
  for (const [sigma, z] of [
    [0.5, 0.3],
    [2, -1.7],
    [10, 2.2],
  ]) {
    const out = await stableTargets(Float32Array.of(1), Float32Array.of(z), Float32Array.of(sigma), refs);
    const x = 1 + sigma * z;
    assert.ok(Math.abs(out.x0[0] - Math.tanh(x / sigma ** 2)) < 1e-6, `σ ${sigma}`);
    assert.ok(Math.abs(out.x0[0] + sigma * out.z[0] - x) < 1e-5 * Math.max(1, Math.abs(x)), `σ ${sigma}`);
  }
});

test('at small σ the row’s own image takes all the weight: plain DSM, to the bit', async () => {
  const x0 = Float32Array.of(0.2, 0.9, 0.4, 0.1);
  const z = Float32Array.of(0.7, -1.3, 0.05, 2.1);
  const refs = { data: Float32Array.of(...x0, 0.3, 0.8, 0.5, 0.2, 0.9, 0.1, 0.6, 0.6), count: 6 };
  const out = await stableTargets(x0, z, Float32Array.of(0.01, 0.001), refs);
  assert.deepEqual(out.x0, x0);
  assert.deepEqual(out.z, z);
});

test('on Gaussian data the target is far closer to E[x0 | x] than x0 is, at large σ', async () => {
  // x0 ~ N(μ, Σ) in 2-d: E[x0 | x] = μ + Σ(Σ + σ²I)⁻¹(x − μ) in closed form.
  const g = new Generator().manualSeed(3);
  const mu = [0.3, -0.2];
  const L = [
    [1, 0],
    [0.5, 0.75],
  ]; // Σ = L Lᵀ = [[1, 0.5], [0.5, 0.8125]]
  const draw = (n: number) => {
    const e = randn([n, 2], { generator: g }).data as Float32Array;
    const out = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      out[2 * i] = mu[0] + L[0][0] * e[2 * i];
      out[2 * i + 1] = mu[1] + L[1][0] * e[2 * i] + L[1][1] * e[2 * i + 1];
    }
    return out;
  };
  const S = [
    [1, 0.5],
    [0.5, 0.8125],
  ];
  const batch = 200;
  const x0 = draw(batch);
  const refs = new Float32Array(2 * 4000);
  refs.set(x0);
  refs.set(draw(4000 - batch), 2 * batch);
  const z = randn([batch, 2], { generator: g }).data as Float32Array;
  for (const s of [3, 10]) {
    const sigma = new Float32Array(batch).fill(s);
    const out = await stableTargets(x0, z, sigma, { data: refs, count: 4000 });
    // (Σ + σ²I)⁻¹ of a 2×2.
    const a = S[0][0] + s * s;
    const d = S[1][1] + s * s;
    const det = a * d - S[0][1] ** 2;
    const inv = [
      [d / det, -S[0][1] / det],
      [-S[0][1] / det, a / det],
    ];
    let errTarget = 0;
    let errX0 = 0;
    for (let b = 0; b < batch; b++) {
      const r = [x0[2 * b] + s * z[2 * b] - mu[0], x0[2 * b + 1] + s * z[2 * b + 1] - mu[1]];
      const v = [inv[0][0] * r[0] + inv[0][1] * r[1], inv[1][0] * r[0] + inv[1][1] * r[1]];
      for (const k of [0, 1]) {
        const m = mu[k] + S[k][0] * v[0] + S[k][1] * v[1];
        errTarget += (out.x0[2 * b + k] - m) ** 2;
        errX0 += (x0[2 * b + k] - m) ** 2;
      }
    }
    assert.ok(errTarget < 0.02 * errX0, `σ ${s}: target error ${errTarget}, x0's ${errX0}`);
  }
});

const data = writeStripeImages(join(tmp, 'images'), 6);
const common = { config: { ...MICRO_CONFIG }, data, batchSize: 2, lr: 2e-3, warmup: 1, seed: 1 };
const losses = (dir: string) =>
  readFileSync(join(dir, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.loss !== undefined)
    .map((r) => r.loss as number);

test('train(): referenceBatch at tiny σ is plain DSM to the bit; at large σ the target differs', async () => {
  const tiny = { ...common, steps: 1, sigmaMin: 0.001, sigmaMax: 0.002 };
  await train({ ...tiny, out: join(tmp, 'tiny-dsm') });
  await train({ ...tiny, out: join(tmp, 'tiny-stf'), referenceBatch: 5 });
  assert.equal(losses(join(tmp, 'tiny-stf'))[0], losses(join(tmp, 'tiny-dsm'))[0]);
  const wide = { ...common, steps: 1, sigmaMin: 5, sigmaMax: 40 };
  await train({ ...wide, out: join(tmp, 'wide-dsm') });
  await train({ ...wide, out: join(tmp, 'wide-stf'), referenceBatch: 5 });
  // Same x, σ and weights: only the target differs.
  assert.notEqual(losses(join(tmp, 'wide-stf'))[0], losses(join(tmp, 'wide-dsm'))[0]);
});

test('train(): referenceBatch is a trajectory option; resume is bit for bit; too small a batch is refused', async () => {
  await assert.rejects(
    train({ ...common, out: join(tmp, 'small'), steps: 1, referenceBatch: 1 }),
    /referenceBatch \(1\) must be 0 or at least batchSize \(2\)/,
  );
  const straight = join(tmp, 'straight');
  await train({ ...common, out: straight, steps: 3, referenceBatch: 4, flip: true });
  const resumed = join(tmp, 'resumed');
  await train({ ...common, out: resumed, steps: 2, referenceBatch: 4, flip: true });
  await assert.rejects(
    train({ out: resumed, resume: true, steps: 3, referenceBatch: 6 }),
    /referenceBatch 6 differs from the resumed run's 4/,
  );
  await train({ out: resumed, resume: true, steps: 3 });
  assert.deepEqual(losses(resumed), losses(straight));
  assert.deepEqual(
    readFileSync(join(resumed, 'unet/diffusion_pytorch_model.safetensors')),
    readFileSync(join(straight, 'unet/diffusion_pytorch_model.safetensors')),
  );
});
