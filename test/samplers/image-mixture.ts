/**
 * The 3×16×16 image mixture (src/samplers/analytic-examples.ts) and chi-square style checks that scale
 * to its 768 dimensions.
 */
import assert from 'node:assert/strict';
import {
  classifyComponents,
  type GaussianMixture,
  gaussianMixtureScore,
} from '../../src/samplers/analytic.js';
import { IMAGE_MIXTURE_DIMS, imageMixtureSpec } from '../../src/samplers/analytic-examples.js';
import type { Tensor } from '../../src/tensor.js';

export const IMAGE_DIMS = IMAGE_MIXTURE_DIMS;
export const imageMixture = gaussianMixtureScore(imageMixtureSpec());

export interface ImageCheck {
  label: string;
  /** Expected fraction of each component (default the mixture weights); bounds are binomial, 4 standard errors. */
  weights?: readonly number[];
  /** Per-component std after the sampler's last step: s²/√(s² + σ²) after a final Tweedie step at σ. */
  finalSigma?: number;
  /** Which coordinates to check (default all): e.g. the unknown pixels of an inpainting. */
  coords?: readonly number[];
  /** Maps a sample row to the coordinates checked (default identity), with their expected mean per component. */
  transform?: (row: Float32Array) => Float64Array;
  expectedMean?: (component: number) => Float64Array;
  expectedStd?: (component: number) => Float64Array;
  /** Added to the spread bound for a sampler's known discretisation bias (say where it was measured). */
  varianceSlack?: number;
}

/**
 * Component counts (binomial, 4 s.e.), then for each component with ≥ 20 samples:
 *   mean: T = Σ_i ((m̂_i − μ_i)·√n_k/s_i)² ~ χ²_D, |T − D| < 4·√(2D);
 *   spread: V = mean_i(ŝ_i²/s_i²) has mean 1 and s.d. √(2/((n_k − 1)·D)), |V − 1| < 4 s.d.
 */
export function assertMatchesImageMixture(samples: Tensor<'float32'>, check: ImageCheck): void {
  const model: GaussianMixture = imageMixture.model;
  const d = model.means[0].length;
  const n = samples.numel / d;
  const comp = classifyComponents(model, samples);
  const weights = check.weights ?? Array.from(model.weights);
  const rows: Float64Array[] = [];
  for (let r = 0; r < n; r++) {
    const row = samples.data.subarray(r * d, (r + 1) * d);
    const t = check.transform ? check.transform(row) : Float64Array.from(row);
    rows.push(check.coords ? Float64Array.from(check.coords, (i) => t[i]) : t);
  }
  for (let c = 0; c < weights.length; c++) {
    const idx = [...comp.keys()].filter((i) => comp[i] === c);
    const w = weights[c];
    const bound = 4 * Math.sqrt(n * w * (1 - w)) + 0.5;
    assert.ok(
      Math.abs(idx.length - n * w) <= bound,
      `${check.label}: component ${c}: ${idx.length} of ${n}, expected ${(n * w).toFixed(1)} ± ${bound.toFixed(1)}`,
    );
    const nk = idx.length;
    if (nk < 20) continue;
    const pick = (v: Float64Array) =>
      check.coords && !check.expectedMean ? Float64Array.from(check.coords, (i) => v[i]) : v;
    const mu = check.expectedMean ? check.expectedMean(c) : pick(model.means[c]);
    const sd = check.expectedStd ? check.expectedStd(c) : pick(model.stds[c]);
    const dim = mu.length;
    const sigmaEnd = check.finalSigma ?? 0;
    let chi2 = 0;
    let ratio = 0;
    for (let j = 0; j < dim; j++) {
      let sum = 0;
      for (const i of idx) sum += rows[i][j];
      const m = sum / nk;
      let sq = 0;
      for (const i of idx) sq += (rows[i][j] - m) ** 2;
      const s = sd[j];
      const sEff = (s * s) / Math.sqrt(s * s + sigmaEnd * sigmaEnd);
      chi2 += ((m - mu[j]) / (sEff / Math.sqrt(nk))) ** 2;
      ratio += sq / (nk - 1) / (sEff * sEff);
    }
    ratio /= dim;
    const chiBound = 4 * Math.sqrt(2 * dim);
    assert.ok(
      Math.abs(chi2 - dim) < chiBound,
      `${check.label}: component ${c} (${nk} samples): mean chi² ${chi2.toFixed(1)}, expected ${dim} ± ${chiBound.toFixed(1)}`,
    );
    const vBound = 4 * Math.sqrt(2 / ((nk - 1) * dim)) + (check.varianceSlack ?? 0);
    assert.ok(
      Math.abs(ratio - 1) < vBound,
      `${check.label}: component ${c} (${nk} samples): variance ratio ${ratio.toFixed(4)}, expected 1 ± ${vBound.toFixed(4)}`,
    );
  }
}
