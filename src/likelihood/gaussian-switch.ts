/**
 * The likelihood's Gaussian switch: above a switch σ, the training data's Gaussian replaces the network. It is
 * the likelihood of the model the samplers' `gaussianAbove` samples from (src/samplers/gaussian-switch.ts), so
 * encoding, likelihood and sampling stay one model. The solver integrates the network's ODE up to the switch
 * only (likelihood.ts); above it the Gaussian's flow is linear and `gaussianFlowMap` takes it in closed form,
 * so the network is never asked there.
 *
 * For N(μ, Σ) noised at σ the score is −(Σ + σ²I)⁻¹(x − μ) = (D(x) − x)/σ², linear in x, so its Jacobian is
 * symmetric and J·v = (D(μ + v) − μ − v)/σ² exactly, with D the Gaussian denoiser (`gaussianScoreVjp`: the
 * Gaussian as a score model, against which the closed form is tested).
 */
import { type GaussianStatistics, gaussianDenoise, gaussianScore } from '../math/gaussian.js';

/** The Gaussian's score and J·v for rows of x (each d values), one σ per row. */
export function gaussianScoreVjp(
  g: GaussianStatistics,
  x: ArrayLike<number>,
  sigma: ArrayLike<number>,
  v: ArrayLike<number>,
): { score: Float32Array; vjp: Float32Array } {
  const d = g.dim;
  const shifted = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) shifted[i] = g.mean[i % d] + v[i];
  const dv = gaussianDenoise(g, shifted, sigma);
  const vjp = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const s = sigma[Math.floor(i / d)];
    vjp[i] = (dv[i] - g.mean[i % d] - v[i]) / (s * s);
  }
  return { score: gaussianScore(g, x, sigma), vjp };
}

/**
 * The Gaussian's probability-flow map from σ0 to σ1, one row: with c = x − μ, each eigen-coefficient of c
 * scales by √((λ + σ1²)/(λ + σ0²)) (dc/dσ = σ·c/(λ + σ²) for a linear score), the rest of c by the residual
 * variance's factor. Returns x(σ1) and log|det ∂x(σ1)/∂x(σ0)|, which is ∫ div f dt over the segment exactly.
 */
export function gaussianFlowMap(
  g: GaussianStatistics,
  x: ArrayLike<number>,
  sigmaFrom: number,
  sigmaTo: number,
): { x: Float64Array; logDet: number } {
  const d = g.dim;
  const k = g.eigenvalues.length;
  const factor = (lambda: number) => Math.sqrt((lambda + sigmaTo ** 2) / (lambda + sigmaFrom ** 2));
  const rest = factor(g.residualVariance);
  const c = Float64Array.from({ length: d }, (_, j) => x[j] - g.mean[j]);
  const out = Float64Array.from({ length: d }, (_, j) => g.mean[j] + rest * c[j]);
  let logDet = (d - k) * Math.log(rest);
  for (let q = 0; q < k; q++) {
    const v = g.eigenvectors.subarray(q * d, (q + 1) * d);
    let dot = 0;
    for (let j = 0; j < d; j++) dot += v[j] * c[j];
    const f = factor(g.eigenvalues[q]);
    logDet += Math.log(f);
    const a = dot * (f - rest);
    for (let j = 0; j < d; j++) out[j] += a * v[j];
  }
  return { x: out, logDet };
}
