/**
 * The likelihood's Gaussian switch: above a switch σ, the training data's Gaussian replaces the network, for
 * the score and its Jacobian alike. It is the likelihood of the model the samplers' `gaussianAbove` samples
 * from (src/samplers/gaussian-switch.ts), so encoding, likelihood and sampling stay one model.
 *
 * For N(μ, Σ) noised at σ the score is −(Σ + σ²I)⁻¹(x − μ) = (D(x) − x)/σ², linear in x, so its Jacobian is
 * symmetric and J·v = (D(μ + v) − μ − v)/σ² exactly, with D the Gaussian denoiser. Rows above the switch cost
 * no network call; a call whose rows all lie above it makes none.
 */
import { type GaussianStatistics, gaussianDenoise, gaussianScore } from '../math/gaussian.js';
import { Tensor } from '../tensor.js';
import type { ScoreVjpFn } from './types.js';

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

/** `model`, with each row whose σ is above `aboveSigma` answered by the Gaussian `g` (score and VJP). */
export function gaussianSwitchScoreVjp(
  model: ScoreVjpFn,
  g: GaussianStatistics,
  aboveSigma: number,
): ScoreVjpFn {
  if (!(aboveSigma > 0 && Number.isFinite(aboveSigma)))
    throw new RangeError(`gaussianAbove must be a finite σ > 0, got ${aboveSigma}`);
  return async (x, sigma, v) => {
    const b = x.dims[0];
    const d = x.numel / b;
    if (d !== g.dim)
      throw new RangeError(`the Gaussian statistics have ${g.dim} values per image, the data ${d}`);
    const net = [...sigma.keys()].filter((r) => !(sigma[r] > aboveSigma));
    const gauss = [...sigma.keys()].filter((r) => sigma[r] > aboveSigma);
    if (gauss.length === 0) return model(x, sigma, v);
    const score = new Float32Array(x.numel);
    const vjp = new Float32Array(x.numel);
    let networkCalls = 0;
    if (net.length > 0) {
      const dims = [net.length, ...x.dims.slice(1)];
      const out = await model(
        new Tensor('float32', pickRows(x.data, net, d), dims),
        Float32Array.from(net, (r) => sigma[r]),
        new Tensor('float32', pickRows(v.data, net, d), dims),
      );
      putRows(score, out.score.data, net, d);
      putRows(vjp, out.vjp.data, net, d);
      networkCalls = out.networkCalls ?? 1;
    }
    const sigmas = Float32Array.from(gauss, (r) => sigma[r]);
    const own = gaussianScoreVjp(g, pickRows(x.data, gauss, d), sigmas, pickRows(v.data, gauss, d));
    putRows(score, own.score, gauss, d);
    putRows(vjp, own.vjp, gauss, d);
    return {
      score: new Tensor('float32', score, x.dims),
      vjp: new Tensor('float32', vjp, x.dims),
      networkCalls,
    };
  };
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

/** Rows `rows` of `src` (rows of d values), packed. */
function pickRows(src: Float32Array, rows: readonly number[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) out.set(src.subarray(rows[i] * d, (rows[i] + 1) * d), i * d);
  return out;
}

/** Writes packed rows back to their places `rows` in `dst`. */
function putRows(dst: Float32Array, packed: Float32Array, rows: readonly number[], d: number): void {
  for (let i = 0; i < rows.length; i++) dst.set(packed.subarray(i * d, (i + 1) * d), rows[i] * d);
}
