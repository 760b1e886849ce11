/**
 * Statistical checks of samples against an analytic Gaussian mixture, with bounds derived from the sample
 * size: each uses 4 standard errors (a false failure has probability < 1e-4 per check for a correct sampler,
 * and the seeds are fixed, so a pass is reproducible).
 */
import assert from 'node:assert/strict';
import { classifyComponents, type GaussianMixture } from '../../src/samplers/analytic.js';
import type { Tensor } from '../../src/tensor.js';

export interface MixtureCheck {
  /** Per-component std after the sampler's final step: s for samplers that end at σ = 0; s²/√(s² + σ²) after a final Tweedie step at σ. */
  finalSigma?: number;
  /** Extra absolute tolerance on means and stds for the sampler's known discretisation bias. */
  slack?: number;
  /** Names the sampler in failure messages. */
  label: string;
}

/**
 * Checks mixture weights (binomial: |n_k − n·w_k| < 4·√(n·w_k·(1 − w_k))), per-component per-dimension
 * means (|m̂ − μ| < 4·s/√n_k) and stds (|ŝ − s| < 4·s/√(2·n_k)).
 */
export function assertMatchesMixture(
  model: GaussianMixture,
  samples: Tensor<'float32'>,
  check: MixtureCheck,
): void {
  const d = model.means[0].length;
  const n = samples.numel / d;
  const comp = classifyComponents(model, samples);
  const k = model.weights.length;
  const slack = check.slack ?? 0;
  const sigmaEnd = check.finalSigma ?? 0;
  for (let c = 0; c < k; c++) {
    const idx: number[] = [];
    comp.forEach((v, i) => {
      if (v === c) idx.push(i);
    });
    const w = model.weights[c];
    const bound = 4 * Math.sqrt(n * w * (1 - w));
    assert.ok(
      Math.abs(idx.length - n * w) < bound,
      `${check.label}: component ${c} has ${idx.length} of ${n} samples, expected ${(n * w).toFixed(1)} ± ${bound.toFixed(1)}`,
    );
    const nk = idx.length;
    for (let j = 0; j < d; j++) {
      let sum = 0;
      let sq = 0;
      for (const i of idx) sum += samples.data[i * d + j];
      const mean = sum / nk;
      for (const i of idx) sq += (samples.data[i * d + j] - mean) ** 2;
      const std = Math.sqrt(sq / (nk - 1));
      const s = model.stds[c][j];
      const sEff = (s * s) / Math.sqrt(s * s + sigmaEnd * sigmaEnd);
      const mu = model.means[c][j];
      const meanBound = (4 * s) / Math.sqrt(nk) + slack;
      assert.ok(
        Math.abs(mean - mu) < meanBound,
        `${check.label}: component ${c} dim ${j} mean ${mean.toFixed(4)}, expected ${mu} ± ${meanBound.toFixed(4)}`,
      );
      const stdBound = (4 * s) / Math.sqrt(2 * nk) + slack;
      assert.ok(
        Math.abs(std - sEff) < stdBound,
        `${check.label}: component ${c} dim ${j} std ${std.toFixed(4)}, expected ${sEff.toFixed(4)} ± ${stdBound.toFixed(4)}`,
      );
    }
  }
}
