/**
 * Exact references for the likelihood code on the analytic Gaussian mixtures of src/samplers/analytic.ts:
 * the noised mixture's log-density, its score with the exact VJP, and the exact Jacobian trace.
 *
 * Noised at σ, component k is N(μ_k, diag(v_k)) with v_k = s_k² + σ². With a_k = (μ_k − x)/v_k and
 * responsibilities r_k, the score is s = Σ r_k·a_k and its Jacobian (a Hessian, so symmetric) is
 *   J = −Σ r_k·diag(1/v_k) + Σ r_k·a_k·a_kᵀ − s·sᵀ,
 * so J·v = −Σ r_k·(v/v_k) + Σ r_k·(a_k·v)·a_k − (s·v)·s and tr J = Σ r_k·(|a_k|² − Σ 1/v_k) − |s|².
 */
import {
  type AnalyticScoreFn,
  type GaussianMixture,
  type GaussianMixtureSpec,
  gaussianMixture,
} from '../samplers/analytic.js';
import { assertFloat32, Tensor } from '../tensor.js';
import type { ScoreVjpFn } from './types.js';

function toMixture(m: GaussianMixture | GaussianMixtureSpec | AnalyticScoreFn): GaussianMixture {
  if (typeof m === 'function') return m.model;
  return m.weights instanceof Float64Array
    ? (m as GaussianMixture)
    : gaussianMixture(m as GaussianMixtureSpec);
}

/** Per-row quantities at one σ: responsibilities, a_k and the score, all float64. */
interface RowTerms {
  r: Float64Array;
  a: Float64Array[];
  invVar: Float64Array[];
  score: Float64Array;
  logDensity: number;
}

function rowTerms(model: GaussianMixture, x: ArrayLike<number>, offset: number, sigma: number): RowTerms {
  const d = model.means[0].length;
  const k = model.weights.length;
  const s2 = sigma * sigma;
  const logp = new Float64Array(k);
  const a: Float64Array[] = [];
  const invVar: Float64Array[] = [];
  for (let c = 0; c < k; c++) {
    const mu = model.means[c];
    const sd = model.stds[c];
    const ac = new Float64Array(d);
    const iv = new Float64Array(d);
    let acc = Math.log(model.weights[c]);
    for (let i = 0; i < d; i++) {
      iv[i] = 1 / (sd[i] * sd[i] + s2);
      const e = mu[i] - x[offset + i];
      ac[i] = e * iv[i];
      acc += 0.5 * Math.log(iv[i] / (2 * Math.PI)) - 0.5 * e * e * iv[i];
    }
    logp[c] = acc;
    a.push(ac);
    invVar.push(iv);
  }
  const max = Math.max(...logp);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(logp[c] - max);
  const lse = max + Math.log(sum);
  const r = logp.map((v) => Math.exp(v - lse));
  const score = new Float64Array(d);
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) score[i] += r[c] * a[c][i];
  return { r, a, invVar, score, logDensity: lse };
}

/** `f` of each row of x (B·D values), from the row's terms under the σ-noised mixture. */
function perRow(
  mixture: GaussianMixture | GaussianMixtureSpec | AnalyticScoreFn,
  x: ArrayLike<number>,
  sigma: number,
  f: (terms: RowTerms, d: number) => number,
): Float64Array {
  const model = toMixture(mixture);
  const d = model.means[0].length;
  const out = new Float64Array(x.length / d);
  for (let b = 0; b < out.length; b++) out[b] = f(rowTerms(model, x, b * d, sigma), d);
  return out;
}

/** log p_σ(x) of each row of x (B·D values) under the σ-noised mixture. */
export function mixtureLogDensity(
  mixture: GaussianMixture | GaussianMixtureSpec | AnalyticScoreFn,
  x: ArrayLike<number>,
  sigma: number,
): Float64Array {
  return perRow(mixture, x, sigma, (t) => t.logDensity);
}

/** tr(∂score/∂x) of each row of x (B·D values) under the σ-noised mixture: the exact divergence. */
export function mixtureScoreTrace(
  mixture: GaussianMixture | GaussianMixtureSpec | AnalyticScoreFn,
  x: ArrayLike<number>,
  sigma: number,
): Float64Array {
  return perRow(mixture, x, sigma, ({ r, a, invVar, score }, d) => {
    let tr = 0;
    for (let c = 0; c < r.length; c++) {
      let q = 0;
      for (let i = 0; i < d; i++) q += a[c][i] * a[c][i] - invVar[c][i];
      tr += r[c] * q;
    }
    for (let i = 0; i < d; i++) tr -= score[i] * score[i];
    return tr;
  });
}

/** The mixture's exact score with its exact VJP, as a ScoreVjpFn (computed in float64, returned in float32). */
export function mixtureScoreVjp(
  mixture: GaussianMixture | GaussianMixtureSpec | AnalyticScoreFn,
): ScoreVjpFn & { readonly model: GaussianMixture } {
  const model = toMixture(mixture);
  const d = model.means[0].length;
  const fn: ScoreVjpFn = async (x, sigma, v) => {
    assertFloat32(x, 'x');
    assertFloat32(v, 'v');
    const batch = x.dims[0];
    if (x.numel !== batch * d || v.numel !== x.numel || sigma.length !== batch) {
      throw new RangeError(
        `analytic score: x [${x.dims}], v [${v.dims}] and ${sigma.length} σ do not hold rows of [${model.dims}]`,
      );
    }
    const score = new Float32Array(x.numel);
    const vjp = new Float32Array(x.numel);
    for (let b = 0; b < batch; b++) {
      if (!(sigma[b] > 0)) throw new RangeError(`analytic score: sigma ${sigma[b]} must be > 0`);
      const off = b * d;
      const t = rowTerms(model, x.data, off, sigma[b]);
      let sv = 0;
      for (let i = 0; i < d; i++) sv += t.score[i] * v.data[off + i];
      const out = new Float64Array(d);
      for (let c = 0; c < t.r.length; c++) {
        const ac = t.a[c];
        let av = 0;
        for (let i = 0; i < d; i++) av += ac[i] * v.data[off + i];
        for (let i = 0; i < d; i++) out[i] += t.r[c] * (av * ac[i] - v.data[off + i] * t.invVar[c][i]);
      }
      for (let i = 0; i < d; i++) {
        score[off + i] = t.score[i];
        vjp[off + i] = out[i] - sv * t.score[i];
      }
    }
    return {
      score: new Tensor('float32', score, x.dims),
      vjp: new Tensor('float32', vjp, x.dims),
    };
  };
  return Object.assign(fn, { model });
}
