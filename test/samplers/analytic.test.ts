import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator } from '../../src/random/index.js';
import {
  classifyComponents,
  gaussianMixture,
  gaussianMixtureScore,
  gaussianScore,
  sampleExact,
} from '../../src/samplers/analytic.js';
import { MIXTURE_2D } from '../../src/samplers/analytic-examples.js';
import { slicedWasserstein } from '../../src/samplers/sliced-wasserstein.js';
import {
  mixtureSlices,
  normalCdf,
  slicedWassersteinToMixture,
} from '../../src/samplers/sliced-wasserstein-exact.js';
import { tensor } from '../../src/tensor.js';
import { assertMatchesMixture } from './mixture-stats.js';

const spec = MIXTURE_2D;

/** log p_σ(x) of the mixture, straight from the definition (float64). */
function logDensity(x: number[], sigma: number): number {
  let p = 0;
  spec.means.forEach((mu, k) => {
    const sd = spec.stds[k];
    let dens = spec.weights[k];
    for (let i = 0; i < 2; i++) {
      const s = typeof sd === 'number' ? sd : sd[i];
      const v = s * s + sigma * sigma;
      dens *= Math.exp(-((x[i] - mu[i]) ** 2) / (2 * v)) / Math.sqrt(2 * Math.PI * v);
    }
    p += dens;
  });
  return Math.log(p);
}

describe('analytic score models', () => {
  it('gaussianScore is (mean − x)/(std² + σ²) per dimension and per row σ', async () => {
    const score = gaussianScore([1, -2, 0.5], [0.5, 2, 0]);
    const x = tensor([0, 0, 0, 3, 1, -1], [2, 3]);
    const out = await score(x, new Float32Array([1, 10]));
    const expect = [1 / 1.25, -2 / 5, 0.5 / 1, -2 / 100.25, -3 / 104, 1.5 / 100];
    assert.deepEqual(Array.from(out.data), expect.map(Math.fround));
    assert.deepEqual(out.dims, [2, 3]);
  });

  it('the mixture score is the gradient of log p_σ (central differences)', async () => {
    const score = gaussianMixtureScore(spec);
    const points = [
      [0.1, 0.2],
      [-1.5, 0.3],
      [1, 1.5],
      [4, -3],
    ];
    for (const sigma of [0.05, 0.7, 3]) {
      const out = await score(tensor(points.flat(), [4, 2]), new Float32Array(4).fill(sigma));
      points.forEach((p, r) => {
        for (let i = 0; i < 2; i++) {
          const h = 1e-5;
          const up = [...p];
          const down = [...p];
          up[i] += h;
          down[i] -= h;
          const fd = (logDensity(up, sigma) - logDensity(down, sigma)) / (2 * h);
          assert.ok(
            Math.abs(out.data[r * 2 + i] - fd) < 1e-5 * Math.max(1, Math.abs(fd)),
            `σ=${sigma} point ${p} dim ${i}: ${out.data[r * 2 + i]} vs ${fd}`,
          );
        }
      });
    }
  });

  it('sampleExact draws the mixture (weights and per-component moments within 4 standard errors)', () => {
    const model = gaussianMixture(spec);
    const { samples, components } = sampleExact(model, 4000, new Generator().manualSeed(3));
    assert.deepEqual(samples.dims, [4000, 2]);
    assertMatchesMixture(model, samples, { label: 'sampleExact' });
    // Well-separated components: the drawn component is the most likely one.
    const classified = classifyComponents(model, samples);
    let agree = 0;
    classified.forEach((c, i) => {
      if (c === components[i]) agree++;
    });
    assert.ok(agree >= 3990, `${agree} of 4000 samples classified as their drawn component`);
  });

  it('sampleExact is reproducible for a seed and follows the generator', () => {
    const model = gaussianMixture({ means: [0, 1], stds: [1, 1], dims: [3, 2, 2] });
    const a = sampleExact(model, 5, new Generator().manualSeed(7)).samples;
    const b = sampleExact(model, 5, new Generator().manualSeed(7)).samples;
    const c = sampleExact(model, 5, new Generator().manualSeed(8)).samples;
    assert.deepEqual(a.dims, [5, 3, 2, 2]);
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, c.data);
  });

  it('sliced Wasserstein: 0 for identical sets, the shift for a translated set', () => {
    const model = gaussianMixture({ means: [0], stds: [1], dims: [4] });
    const a = sampleExact(model, 500, new Generator().manualSeed(1)).samples;
    assert.equal(slicedWasserstein(a, a), 0);
    // Translating by v moves every projection by ⟨v, u⟩: SW2² = E_u⟨v, u⟩² = |v|²/d.
    const shifted = tensor(
      a.data.map((v, i) => (i % 4 === 0 ? v + 2 : v)),
      a.dims,
    );
    const sw = slicedWasserstein(a, shifted, { projections: 4000 });
    assert.ok(Math.abs(sw - 1) < 0.05, `SW2 of a shift by 2 along one of 4 axes: ${sw}, expected 1`);
  });

  it('sliced Wasserstein to the exact mixture: small for exact samples, the shift for translated ones', () => {
    assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
    assert.ok(Math.abs(normalCdf(1.959963984540054) - 0.975) < 2e-7);
    assert.ok(Math.abs(normalCdf(-3) - 0.0013498980316301) < 2e-9);
    const model = gaussianMixture(spec);
    const n = 2000;
    const slices = mixtureSlices(model, n, 64);
    const { samples } = sampleExact(model, n, new Generator().manualSeed(6));
    const exact = slicedWassersteinToMixture(samples, slices);
    // Finite-sample W2 of n exact draws is O(spread/√n); the mixture spans ≈ 4, so < 0.15 with margin.
    assert.ok(exact < 0.15, `exact samples: ${exact}`);
    const shifted = tensor(
      samples.data.map((v, i) => (i % 2 === 0 ? v + 1 : v)),
      samples.dims,
    );
    const sw = slicedWassersteinToMixture(shifted, slices);
    // A shift by v adds ⟨v, u⟩ to every projection: SW2 ≈ |v|/√d = 0.71 (± the finite-sample part).
    assert.ok(Math.abs(sw - Math.SQRT1_2) < exact + 0.05, `shifted by 1: ${sw}`);
    assert.throws(
      () => slicedWassersteinToMixture(samples, mixtureSlices(model, 10, 4)),
      /2000 samples, slices were made for 10/,
    );
  });

  it('rejects malformed mixtures with a clear message', async () => {
    assert.throws(
      () => gaussianMixture({ means: [[0, 1]], stds: [[1, 1, 1]] }),
      /stds\[0\] has 3 values, expected 2/,
    );
    assert.throws(() => gaussianMixture({ means: [0, 1], stds: [1] }), /one entry per component/);
    assert.throws(() => gaussianMixture({ means: [0], stds: [-1] }), /stds\[0\] must be finite and ≥ 0/);
    assert.throws(() => gaussianMixture({ means: [0, 1], stds: [1, 1], weights: [0, 0] }), /not all 0/);
    const score = gaussianScore([0, 0], 1);
    await assert.rejects(
      score(tensor([0, 0, 0], [1, 3]), new Float32Array([1])),
      /does not hold samples of \[2\]/,
    );
  });
});
