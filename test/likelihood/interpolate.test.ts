/**
 * Encoding, decoding and latent interpolation through the probability-flow ODE, against the closed-form
 * Gaussian flow (a linear map, so every decoded frame is known) and slerp's own identities.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interpolateImages, slerp } from '../../src/likelihood/index.js';
import { Generator } from '../../src/random/index.js';
import { gaussianMixtureScore, gaussianScore, sampleExact } from '../../src/samplers/analytic.js';
import { Tensor } from '../../src/tensor.js';
import { DIMS, images8bit, mixtureSpec } from './problems.js';

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, b) => a + b * b, 0));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((s, ai, i) => s + ai * b[i], 0);

describe('slerp', () => {
  it('hits the end points, keeps the norm of equal-norm vectors and turns at a constant rate', () => {
    const a = [3, 0, 0, 4];
    const b = [0, 5, 0, 0];
    assert.deepEqual(Array.from(slerp(a, b, 0)), a);
    assert.ok(Array.from(slerp(a, b, 1)).every((v, i) => Math.abs(v - b[i]) < 1e-15));
    const theta = Math.acos(dot(a, b) / 25); // π/2 here
    for (const alpha of [0.25, 0.5, 0.9]) {
      const m = slerp(a, b, alpha);
      assert.ok(Math.abs(norm(m) - 5) < 1e-12);
      assert.ok(Math.abs(Math.acos(dot(a, m) / 25) - alpha * theta) < 1e-12);
    }
    // Parallel vectors fall back to the straight line.
    assert.deepEqual(Array.from(slerp([1, 2], [2, 4], 0.5)), [1.5, 3]);
  });
});

describe('interpolateImages on Gaussian data', () => {
  const mu = 0.5;
  const s = 0.2;
  const opts = { sigmaMin: 0.01, sigmaMax: 50 };
  const sigmaEps = 0.01 * 5000 ** 1e-5;
  const scale = Math.sqrt((s * s + 50 * 50) / (s * s + sigmaEps * sigmaEps)); // the flow map's gain
  const imgs = images8bit(2);
  const a = new Tensor('float32', imgs.data.slice(0, 16), [1, ...DIMS]);
  const b = new Tensor('float32', imgs.data.slice(16), [1, ...DIMS]);
  const score = gaussianScore(mu, s, DIMS);

  it('latents are the closed-form flow map; every frame decodes its slerped latent (tol 1e-7)', async () => {
    const r = await interpolateImages(score, a, b, 5, { ...opts, rtol: 1e-7, atol: 1e-7 });
    const za = Float64Array.from(a.data, (v) => mu + (v - mu) * scale);
    const zb = Float64Array.from(b.data, (v) => mu + (v - mu) * scale);
    const z = Float64Array.from(r.latents.data);
    assert.ok(Math.max(...z.map((v, i) => Math.abs(v - (i < 16 ? za[i] : zb[i - 16])))) < 1e-6 * scale);
    assert.deepEqual(r.frames.dims, [5, ...DIMS]);
    for (let k = 0; k < 5; k++) {
      const zk = slerp(za, zb, k / 4);
      for (let i = 0; i < 16; i++) {
        const expected = mu + (zk[i] - mu) / scale;
        assert.ok(Math.abs(r.frames.data[k * 16 + i] - expected) < 1e-5, `frame ${k}`);
      }
    }
    assert.ok(r.roundTripError[0] < 1e-5 && r.roundTripError[1] < 1e-5, `${r.roundTripError}`);
  });

  it('default tolerances: the encode → decode round trip is within 1e-4', async () => {
    const r = await interpolateImages(score, a, b, 3, opts);
    // Measured 1.0e-5 (σmax 50) and 1.4e-5 (σmax 1348): RK45's global error, a few × its tolerance 1e-5.
    assert.ok(Math.max(...r.roundTripError) < 1e-4, `${r.roundTripError}`);
    assert.ok(r.nfe > 0);
  });

  it('refuses mismatched inputs and fewer than 2 frames', async () => {
    await assert.rejects(interpolateImages(score, a, imgs, 3, opts), /both be \(1, C, H, W\)/);
    await assert.rejects(interpolateImages(score, a, b, 1, opts), /frames must be an integer ≥ 2/);
  });
});

describe('interpolateImages on a Gaussian mixture (a non-linear flow)', () => {
  it('round trip of two samples of the mixture within 1e-4 at default tolerances, 1e-6 at 1e-7', async () => {
    // Points far from the data (low density) have an ill-conditioned flow: encoding squeezes them, so
    // decoding amplifies the solver error (measured 3e-2 on off-mixture images). Data-like inputs are the
    // meaningful case, as for a trained model.
    const score = gaussianMixtureScore(mixtureSpec());
    const { samples } = sampleExact(score, 2, new Generator().manualSeed(1));
    const a = new Tensor('float32', samples.data.slice(0, 16), [1, ...DIMS]);
    const b = new Tensor('float32', samples.data.slice(16), [1, ...DIMS]);
    const opts = { sigmaMin: 0.01, sigmaMax: 50 };
    const loose = await interpolateImages(score, a, b, 3, opts);
    assert.ok(Math.max(...loose.roundTripError) < 1e-4, `${loose.roundTripError}`);
    const tight = await interpolateImages(score, a, b, 3, { ...opts, rtol: 1e-7, atol: 1e-7 });
    assert.ok(Math.max(...tight.roundTripError) < 1e-6, `${tight.roundTripError}`);
  });
});

describe('interpolateImages: each image has its own solve', () => {
  it("a's round trip and frame 0 are the same whatever b is (b on or far off the data)", async () => {
    // With one error norm over the pair (score_sde's single system) a far-off b, whose flow is ill-conditioned,
    // set the steps for both; each row now has its own steps, so a's encoding and decoding see only a.
    const score = gaussianMixtureScore(mixtureSpec());
    const { samples } = sampleExact(score, 2, new Generator().manualSeed(1));
    const a = new Tensor('float32', samples.data.slice(0, 16), [1, ...DIMS]);
    const near = new Tensor('float32', samples.data.slice(16), [1, ...DIMS]);
    const far = new Tensor('float32', images8bit(1).data, [1, ...DIMS]);
    const opts = { sigmaMin: 0.01, sigmaMax: 50 };
    const withNear = await interpolateImages(score, a, near, 3, opts);
    const withFar = await interpolateImages(score, a, far, 3, opts);
    assert.equal(withNear.roundTripError[0], withFar.roundTripError[0]);
    assert.deepEqual(withNear.frames.data.subarray(0, 16), withFar.frames.data.subarray(0, 16));
    assert.deepEqual(withNear.latents.data.subarray(0, 16), withFar.latents.data.subarray(0, 16));
    // …and b's own round trip differs (the two b's are different problems), so the test can tell.
    assert.notEqual(withNear.roundTripError[1], withFar.roundTripError[1]);
  });
});
