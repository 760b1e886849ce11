/**
 * The per-σ diagnostic against closed forms: on data drawn from a known Gaussian, the optimal denoiser is the
 * Gaussian one, E‖D − x0‖²/d = (1/d) Σ λσ²/(λ + σ²), and the identity D = x scores σ².
 */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  fitGaussian,
  type GaussianStatistics,
  gaussianDenoise,
  gaussianDenoiserMse,
  gaussianScore,
  loadGaussian,
  perSigmaReport,
  saveGaussian,
} from '../../src/diagnostics/index.js';
import { symmetricEigenQl } from '../../src/math/symmetric-eigen.js';
import { Generator, randn } from '../../src/random/index.js';

const D = 12;

/** A random orthogonal matrix (Gram–Schmidt of a Gaussian matrix), rows orthonormal. */
function orthogonal(n: number, seed: number): Float64Array {
  const a = Float64Array.from(randn([n, n], { generator: new Generator().manualSeed(seed) }).data);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += a[i * n + k] * a[j * n + k];
      for (let k = 0; k < n; k++) a[i * n + k] -= dot * a[j * n + k];
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += a[i * n + k] ** 2;
    for (let k = 0; k < n; k++) a[i * n + k] /= Math.sqrt(norm);
  }
  return a;
}

/** The true Gaussian N(μ, Qᵀ diag(λ) Q) as statistics, and n draws from it. */
function truth(n: number, seed = 1) {
  const q = orthogonal(D, 1);
  const lambda = Float64Array.from({ length: D }, (_, i) => 2 * 0.6 ** i); // 2 … 0.0073
  const mean = Float64Array.from({ length: D }, (_, i) => 0.1 * i - 0.4);
  const stats: GaussianStatistics = {
    kind: 'full',
    dim: D,
    count: Number.POSITIVE_INFINITY,
    mean,
    eigenvalues: lambda,
    eigenvectors: q,
    residualVariance: 0,
  };
  const z = randn([n, D], { generator: new Generator().manualSeed(seed + 100) }).data;
  const x = new Float32Array(n * D);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < D; j++) {
      let v = mean[j];
      for (let k = 0; k < D; k++) v += q[k * D + j] * Math.sqrt(lambda[k]) * z[r * D + k];
      x[r * D + j] = v;
    }
  return { stats, x };
}

const reader = (x: Float32Array, d: number) => (i: number, out: Float32Array) =>
  out.set(x.subarray(i * d, (i + 1) * d));

/** Solves A y = b (dense, partial pivoting). */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const y = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
    [y[c], y[p]] = [y[p], y[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      y[r] -= f * y[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = y[r];
    for (let k = r + 1; k < n; k++) s -= m[r * n + k] * y[k];
    y[r] = s / m[r * n + r];
  }
  return y;
}

test('symmetricEigenQl: A = V Λ Vᵀ with orthonormal V, ascending Λ, exact on known spectra', () => {
  const two = symmetricEigenQl(Float64Array.from([2, 1, 1, 2]), 2);
  assert.deepEqual(
    [...two.values].map((v) => Math.round(v * 1e12) / 1e12),
    [1, 3],
  );
  const ident = symmetricEigenQl(
    Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
    4,
  );
  for (const v of ident.values) assert.ok(Math.abs(v - 1) < 1e-15);
  const n = 40;
  const q = orthogonal(n, 5);
  const lambda = Float64Array.from({ length: n }, (_, i) => (i - 10) * 0.37);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let k = 0; k < n; k++) a[i * n + j] += q[k * n + i] * lambda[k] * q[k * n + j];
  const { values, vectors } = symmetricEigenQl(a, n);
  const sorted = [...lambda].sort((x, y) => x - y);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(values[i] - sorted[i]) < 1e-12, `λ${i}`);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let av = 0;
      let vv = 0;
      for (let k = 0; k < n; k++) {
        av += a[i * n + k] * vectors[k * n + j];
        vv += vectors[k * n + i] * vectors[k * n + j];
      }
      assert.ok(Math.abs(av - vectors[i * n + j] * values[j]) < 1e-12, 'A v = λ v');
      assert.ok(Math.abs(vv - (i === j ? 1 : 0)) < 1e-12, 'VᵀV = I');
    }
});

test('a full fit is the sample mean and covariance; its denoiser is μ + Σ(Σ + σ²I)⁻¹(x − μ) and its score (D − x)/σ²', async () => {
  const n = 500;
  const { x } = truth(n);
  const g = await fitGaussian(reader(x, D), n, D);
  assert.equal(g.kind, 'full');
  const mean = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) mean[j] += x[r * D + j] / n;
  const cov = new Float64Array(D * D);
  for (let r = 0; r < n; r++)
    for (let i = 0; i < D; i++)
      for (let j = 0; j < D; j++) cov[i * D + j] += ((x[r * D + i] - mean[i]) * (x[r * D + j] - mean[j])) / n;
  for (let j = 0; j < D; j++) assert.ok(Math.abs(g.mean[j] - mean[j]) < 1e-12);
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let c = 0;
      for (let k = 0; k < D; k++)
        c += g.eigenvectors[k * D + i] * g.eigenvalues[k] * g.eigenvectors[k * D + j];
      assert.ok(Math.abs(c - cov[i * D + j]) < 1e-12, `Σ[${i}][${j}]`);
    }
  for (const sigma of [0.05, 0.7, 9]) {
    const row = x.subarray(0, D);
    const shifted = cov.map((v, i) => v + (i % (D + 1) === 0 ? sigma * sigma : 0));
    const y = solve(
      shifted,
      Float64Array.from(row, (v, j) => v - mean[j]),
      D,
    );
    const got = gaussianDenoise(g, row, sigma);
    const score = gaussianScore(g, row, sigma);
    for (let i = 0; i < D; i++) {
      let want = mean[i];
      for (let k = 0; k < D; k++) want += cov[i * D + k] * y[k];
      assert.ok(Math.abs(got[i] - want) < 1e-6, `σ ${sigma}: D[${i}] ${got[i]} vs ${want}`);
      assert.ok(Math.abs(score[i] + y[i]) < 1e-5 * (1 + Math.abs(y[i])), `σ ${sigma}: score[${i}]`);
    }
  }
});

test('per-σ report on Gaussian data: the true Gaussian denoiser scores the closed form; the identity scores σ²', async () => {
  const { stats, x: train } = truth(4000, 2);
  const fitted = await fitGaussian(reader(train, D), 4000, D);
  const n = 3000;
  const { x: images } = truth(n, 3); // same distribution, other draws
  const sigmas = [20, 2, 0.5, 0.05];
  const optimal = await perSigmaReport({
    denoise: async (x, _dims, sigma) => gaussianDenoise(stats, x, sigma),
    images,
    imageShape: [1, 3, 4],
    statistics: fitted,
    sigmas,
    batchSize: 700,
  });
  for (const r of optimal.rows) {
    const closed = gaussianDenoiserMse(stats, r.sigma);
    // Sampling error of a mean of n·d squared errors (correlated within a row): well inside 10 % at n = 3000.
    assert.ok(Math.abs(r.model / closed - 1) < 0.1, `σ ${r.sigma}: ${r.model} vs closed form ${closed}`);
    // The fitted Gaussian is nearly optimal too: within 2 % of the true one on the same noise.
    assert.ok(Math.abs(r.ratio - 1) < 0.02, `σ ${r.sigma}: ratio ${r.ratio}`);
    // The mean image: tr Σ / d plus nothing else (the fit's mean is the data's).
    const trace = stats.eigenvalues.reduce((s, l) => s + l, 0) / D;
    assert.ok(Math.abs(r.meanImage / trace - 1) < 0.1);
  }
  const identity = await perSigmaReport({
    denoise: async (x) => x,
    images,
    imageShape: [1, 3, 4],
    statistics: fitted,
    sigmas,
  });
  for (const r of identity.rows)
    assert.ok(Math.abs(r.model / (r.sigma * r.sigma) - 1) < 0.05, `σ ${r.sigma}`);
  assert.equal(identity.beatsGaussianEverywhere, false);
  assert.equal(identity.worstSigma, 20);
});

test("per-σ report's noise-norm corrected column: a denoiser whose residual is the fitted Gaussian's times a per-image factor is corrected to the Gaussian exactly", async () => {
  const { x: train } = truth(4000, 2);
  const fitted = await fitGaussian(reader(train, D), 4000, D);
  const n = 200;
  const { x: images } = truth(n, 4);
  // Each image's residual x − D scaled by its own factor in [0.8, 1.2): the error of a network blind to the
  // size of the noise draw. The correction rescales each residual to the Gaussian's norm, giving D_G back.
  const scaled = async (x: Float32Array, _dims: readonly number[], sigma: number) => {
    const dg = gaussianDenoise(fitted, x, sigma);
    return x.map((v, i) => v - (0.8 + 0.4 * ((Math.floor(i / D) * 0.618) % 1)) * (v - dg[i]));
  };
  const report = await perSigmaReport({
    denoise: scaled,
    images,
    imageShape: [1, 3, 4],
    statistics: fitted,
    sigmas: [20, 2, 0.5],
  });
  for (const r of report.rows) {
    assert.ok(r.ratio > 1.005, `σ ${r.sigma}: the scaled residual is worse than the Gaussian (${r.ratio})`);
    assert.ok(Math.abs(r.normCorrectedRatio - 1) < 1e-5, `σ ${r.sigma}: corrected ${r.normCorrectedRatio}`);
    assert.ok(Math.abs(r.normCorrected - r.gaussian) <= 1e-5 * r.gaussian);
  }
});

test('a low-rank fit recovers a low-rank-plus-isotropic covariance and denoises as well as the full fit', async () => {
  const d = 30;
  const n = 3000;
  const rank = 3;
  const rho = 0.01;
  const q = orthogonal(d, 11);
  const lambda = [3, 1, 0.3];
  const z = randn([n, d + rank], { generator: new Generator().manualSeed(12) }).data;
  const x = new Float32Array(n * d);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < d; j++) {
      let v = 0.5 + Math.sqrt(rho) * z[r * (d + rank) + rank + j];
      for (let k = 0; k < rank; k++) v += q[k * d + j] * Math.sqrt(lambda[k]) * z[r * (d + rank) + k];
      x[r * d + j] = v;
    }
  const low = await fitGaussian(reader(x, d), n, d, { maxFullDim: 10, lowRankRows: 1000, lowRankRank: rank });
  const full = await fitGaussian(reader(x, d), n, d);
  assert.equal(low.kind, 'low-rank');
  assert.equal(low.eigenvalues.length, rank);
  for (let k = 0; k < rank; k++)
    assert.ok(Math.abs(low.eigenvalues[k] / (lambda[k] + rho) - 1) < 0.15, `λ${k}`);
  assert.ok(Math.abs(low.residualVariance / rho - 1) < 0.15, `ρ ${low.residualVariance}`);
  for (const sigma of [0.03, 0.3, 3]) {
    const probe = x.subarray(0, 200 * d);
    const noisy = probe.map((v, i) => v + sigma * z[(i % (n * d)) % z.length]);
    const err = (g: GaussianStatistics) =>
      gaussianDenoise(g, noisy, sigma).reduce((s, v, i) => s + (v - probe[i]) ** 2, 0) / probe.length;
    assert.ok(err(low) / err(full) < 1.1, `σ ${sigma}: low-rank ${err(low)} vs full ${err(full)}`);
  }
});

test('statistics files round-trip, and a malformed one is refused naming the file', async () => {
  const { x } = truth(50);
  const g = await fitGaussian(reader(x, D), 50, D);
  const dir = await mkdtemp(join(tmpdir(), 'gauss-'));
  const path = join(dir, 'gaussian.safetensors');
  await saveGaussian(path, g);
  const back = await loadGaussian(path);
  assert.equal(back.kind, 'full');
  assert.equal(back.count, 50);
  for (const sigma of [0.1, 3]) {
    const a = gaussianDenoise(g, x.subarray(0, D), sigma);
    const b = gaussianDenoise(back, x.subarray(0, D), sigma);
    for (let i = 0; i < D; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5);
  }
  const bad = join(dir, 'bad.safetensors');
  await writeFile(bad, new Uint8Array(3));
  await assert.rejects(loadGaussian(bad), /bad\.safetensors/);
});
