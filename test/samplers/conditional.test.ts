/**
 * PC inpainting and colorization (the Score SDE paper's replacement method): the known part is kept exactly
 * and the rest follows the conditional distribution of the analytic mixture.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator } from '../../src/random/index.js';
import { gaussianMixtureScore, sampleExact } from '../../src/samplers/analytic.js';
import { colorize, inpaint } from '../../src/samplers/registry.js';
import { tensor } from '../../src/tensor.js';
import { assertMatchesImageMixture, IMAGE_DIMS, imageMixture } from './image-mixture.js';

const N = 50;
const D = 768;
const PLANE = 256;
// PC at 200 steps overestimates the spread by ≈ 3 % (first order: +4.9 %, +3.1 %, +1.9 % at 100, 200, 400 steps,
// measured unconditionally on a 768-pixel Gaussian with std 0.05); at N = 50 that is inside the statistical bound
// (measured here: inpainting +2.3 % of ± 4.1 %, colorization +4.0 % of ± 5.0 %), so no slack is added.
const seeded = (seed: number) => ({ generator: new Generator().manualSeed(seed) });

describe('PC inpainting', () => {
  it('keeps the known pixels exactly and completes the rest from the matching component', async () => {
    // Known: the left half (w < 8) of an exact sample of component 1 ("blue"); it identifies the component.
    const { samples, components } = sampleExact(imageMixture, 1, new Generator().manualSeed(9));
    assert.equal(components[0], 1);
    const image = tensor(
      new Float32Array(N * D).map((_, i) => samples.data[i % D]),
      [N, ...IMAGE_DIMS],
    );
    const mask = tensor(
      new Float32Array(PLANE).map((_, i) => (i % 16 < 8 ? 1 : 0)),
      [1, 1, 16, 16],
    );
    const r = await inpaint(imageMixture, { image, mask, steps: 200 }, seeded(0));
    assert.equal(r.nfe, 400);
    const unknown: number[] = [];
    for (let i = 0; i < D; i++) {
      if (i % 16 < 8) {
        for (let b = 0; b < N; b++)
          assert.equal(r.sample.data[b * D + i], image.data[b * D + i], `known pixel ${i} of row ${b}`);
      } else unknown.push(i);
    }
    assertMatchesImageMixture(r.sample, {
      label: 'inpainting',
      weights: [0, 1, 0],
      coords: unknown,
      finalSigma: 0.01,
    });
  });

  it('with an uninformative known coordinate, the unknown one follows the prior mixture weights', async () => {
    // Components (0, −2) and (0.3, 2), std 0.5, weights 0.7 / 0.3; x₀ = 0.15 is equally likely under both,
    // so p(component | x₀) = (0.7, 0.3) and x₁ is bimodal.
    const score = gaussianMixtureScore({
      means: [
        [0, -2],
        [0.3, 2],
      ],
      stds: [0.5, 0.5],
      weights: [0.7, 0.3],
    });
    const n = 1000;
    const image = tensor(
      new Float32Array(2 * n).map((_, i) => (i % 2 === 0 ? 0.15 : 0)),
      [n, 2],
    );
    const r = await inpaint(score, { image, mask: tensor([1, 0], [2]), steps: 200 }, seeded(1));
    let upper = 0;
    for (let i = 0; i < n; i++) {
      assert.equal(r.sample.data[2 * i], Math.fround(0.15));
      if (r.sample.data[2 * i + 1] > 0) upper++;
    }
    const bound = 4 * Math.sqrt(n * 0.3 * 0.7);
    assert.ok(
      Math.abs(upper - 0.3 * n) < bound,
      `${upper} of ${n} in the upper mode, expected ${0.3 * n} ± ${bound.toFixed(1)}`,
    );
  });

  it('rejects masks that are not 0/1 or do not broadcast', async () => {
    const image = tensor(new Float32Array(8), [2, 4]);
    await assert.rejects(
      inpaint(imageMixture, { image, mask: tensor([1, 0, 0.5, 1], [4]) }),
      /mask values must be 0 \(fill in\) or 1 \(known\), got 0.5/,
    );
    await assert.rejects(
      inpaint(imageMixture, { image, mask: tensor([1, 0, 1], [3]) }),
      /mask \[3\] does not broadcast to the image \[2, 4\]/,
    );
  });
});

describe('PC colorization', () => {
  /** RGB → (luminance, chroma 1, chroma 2) with score_sde's orthonormal transform. */
  const decouple = (row: Float32Array | Float64Array) => {
    const out = new Float64Array(D);
    for (let p = 0; p < PLANE; p++) {
      const [r, g, b] = [row[p], row[PLANE + p], row[2 * PLANE + p]];
      out[p] = (r + g + b) / Math.sqrt(3);
      out[PLANE + p] = (-2 * r + g + b) / Math.sqrt(6);
      out[2 * PLANE + p] = (g - b) / Math.sqrt(2);
    }
    return out;
  };
  const chroma = Array.from({ length: 2 * PLANE }, (_, i) => PLANE + i);

  it('keeps the luminance and samples the colours of the components that share it', async () => {
    // Grey = channel mean of a "red" sample. "red" and "blue" have the same luminance distribution, so
    // p(component | grey) = (0.5, 0.3)/0.8 = (0.625, 0.375); "checker" is ruled out.
    const { samples, components } = sampleExact(imageMixture, 1, new Generator().manualSeed(5));
    assert.equal(components[0], 0);
    const grey = new Float32Array(PLANE).map(
      (_, p) => (samples.data[p] + samples.data[PLANE + p] + samples.data[2 * PLANE + p]) / 3,
    );
    const grayImage = tensor(
      new Float32Array(N * PLANE).map((_, i) => grey[i % PLANE]),
      [N, 1, 16, 16],
    );
    const r = await colorize(imageMixture, { grayImage, steps: 200 }, seeded(2));
    assert.deepEqual(r.sample.dims, [N, 3, 16, 16]);
    for (let b = 0; b < N; b++) {
      for (let p = 0; p < PLANE; p++) {
        const mean =
          (r.sample.data[b * D + p] +
            r.sample.data[b * D + PLANE + p] +
            r.sample.data[b * D + 2 * PLANE + p]) /
          3;
        assert.ok(
          Math.abs(mean - grey[p]) < 1e-6,
          `row ${b} pixel ${p}: channel mean ${mean}, grey ${grey[p]}`,
        );
      }
    }
    assertMatchesImageMixture(r.sample, {
      label: 'colorization',
      weights: [0.625, 0.375, 0],
      transform: decouple,
      coords: chroma,
      expectedMean: (c) => Float64Array.from(chroma, (i) => decouple(imageMixture.model.means[c])[i]),
      // Isotropic per-pixel noise stays isotropic under the orthonormal transform.
      expectedStd: (c) => new Float64Array(chroma.length).fill(imageMixture.model.stds[c][0]),
      finalSigma: 0.01,
    });
  });

  it('accepts an RGB image (its channel mean is the luminance) and rejects other shapes', async () => {
    const rgb = tensor(new Float32Array(3 * PLANE).fill(0.5), [1, 3, 16, 16]);
    const r = await colorize(imageMixture, { grayImage: rgb, steps: 3 }, seeded(0));
    for (let p = 0; p < PLANE; p++) {
      const mean = (r.sample.data[p] + r.sample.data[PLANE + p] + r.sample.data[2 * PLANE + p]) / 3;
      assert.ok(Math.abs(mean - 0.5) < 1e-6);
    }
    await assert.rejects(
      colorize(imageMixture, { grayImage: tensor(new Float32Array(2 * PLANE), [1, 2, 16, 16]) }),
      /grayImage must be \(B, 1, H, W\) or \(B, 3, H, W\), got \[1, 2, 16, 16\]/,
    );
  });
});
