/** The exact baseline densities against their closed forms on tiny data. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullGaussian, pixelHistogram } from '../../src/likelihood/index.js';

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe('pixelHistogram', () => {
  it('is −log2 of the add-one-smoothed bin frequency per pixel, whatever the dequantization draw', () => {
    // 4 rows of 2 pixels: pixel 0 is 7, 7, 7, 200; pixel 1 is 0 throughout.
    const train = Uint8Array.from([7, 0, 7, 0, 7, 0, 200, 0]);
    const h = pixelHistogram(train, 2);
    const p = (c: number) => (c + 1) / (4 + 256);
    const test = Uint8Array.from([7, 0, 9, 255]);
    for (const u of [new Float64Array(4), Float64Array.from([0.9, 0.1, 0.5, 0.99])]) {
      const got = h.bitsPerDim(test, u);
      close(got[0], -(Math.log2(p(3)) + Math.log2(p(4))) / 2);
      close(got[1], -(Math.log2(p(0)) + Math.log2(p(0))) / 2);
    }
  });
});

describe('fullGaussian', () => {
  it('in 1-D: the dequantized data’s mean and variance (+1/12 of a level²), bits/dim with the +8 offset', () => {
    const g = fullGaussian(Uint8Array.from([0, 10, 20]), 1);
    const mu = 10.5 / 256;
    const v = (200 / 3 + 1 / 12) / 256 ** 2;
    const x = (13 + 0.25) / 256;
    const logp = -0.5 * ((x - mu) ** 2 / v + Math.log(v) + Math.log(2 * Math.PI));
    close(g.bitsPerDim(Uint8Array.of(13), Float64Array.of(0.25))[0], -logp / Math.LN2 + 8);
  });

  it('in 2-D: matches the closed-form inverse and determinant of a correlated covariance', () => {
    const train = Uint8Array.from([10, 12, 50, 40, 90, 95, 30, 20, 70, 77]);
    const g = fullGaussian(train, 2);
    const n = 5;
    const m = [0, 1].map((j) => [0, 1, 2, 3, 4].reduce((s, r) => s + train[2 * r + j], 0) / n);
    const cv = (a: number, b: number) =>
      [0, 1, 2, 3, 4].reduce((s, r) => s + (train[2 * r + a] - m[a]) * (train[2 * r + b] - m[b]), 0) / n;
    const s00 = (cv(0, 0) + 1 / 12) / 256 ** 2;
    const s11 = (cv(1, 1) + 1 / 12) / 256 ** 2;
    const s01 = cv(0, 1) / 256 ** 2;
    const det = s00 * s11 - s01 ** 2;
    const k = Uint8Array.of(60, 41);
    const u = Float64Array.of(0.3, 0.8);
    const dx = [(60.3 - m[0] - 0.5) / 256, (41.8 - m[1] - 0.5) / 256];
    const q = (s11 * dx[0] ** 2 - 2 * s01 * dx[0] * dx[1] + s00 * dx[1] ** 2) / det;
    const logp = -0.5 * (q + Math.log(det) + 2 * Math.log(2 * Math.PI));
    close(g.bitsPerDim(k, u)[0], -logp / (2 * Math.LN2) + 8, 1e-10);
  });

  it('refuses data that are not whole rows, and uniforms of another length', () => {
    assert.throws(() => fullGaussian(Uint8Array.of(1, 2, 3), 2), /3 values are not whole rows of 2/);
    assert.throws(() => pixelHistogram(new Uint8Array(0), 4), /0 values are not whole rows/);
    const g = fullGaussian(Uint8Array.of(1, 2, 3, 5), 2);
    assert.throws(() => g.bitsPerDim(Uint8Array.of(1, 2), new Float64Array(3)), /3 uniforms for 2 values/);
  });
});
