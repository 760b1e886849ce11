/**
 * Analytic score models: data distributions whose VE-noised density p_σ = p_data ∗ N(0, σ²I) is known
 * in closed form, so samplers can be checked without trained weights.
 *
 * A Gaussian mixture with diagonal covariances: component k is N(μ_k, diag(s_k²)); noised at σ it is
 * N(μ_k, diag(s_k² + σ²)), and
 *   score(x, σ) = Σ_k r_k(x) · (μ_k − x) / (s_k² + σ²),  r_k ∝ w_k·N(x; μ_k, diag(s_k² + σ²)).
 * Works in a few dimensions and at image size (e.g. 3×16×16 "images" with per-pixel stds): the
 * components are independent per pixel but the mixture couples every pixel through r_k.
 */

import type { Generator } from '../random/generator.js';
import { assertFloat32, numelOf, Tensor } from '../tensor.js';
import { checkInteger, drawNoise } from './common.js';
import type { ScoreFn } from './types.js';

/** A diagonal Gaussian mixture over samples of shape `dims` (without the batch dimension). */
export interface GaussianMixture {
  /** Sample shape without batch, e.g. [3, 16, 16] or [2]. */
  readonly dims: readonly number[];
  /** K means, each with numel(dims) values. */
  readonly means: readonly Float64Array[];
  /** K per-dimension standard deviations, each with numel(dims) values. */
  readonly stds: readonly Float64Array[];
  /** K weights summing to 1. */
  readonly weights: Float64Array;
}

/** A ScoreFn that also carries the mixture it is the exact score of. */
export type AnalyticScoreFn = ScoreFn & { readonly model: GaussianMixture };

export interface GaussianMixtureSpec {
  /** K component means: numel(dims) values each, or one number for every dimension. */
  means: readonly (number | ArrayLike<number>)[];
  /** K component stds: a number (isotropic) or numel(dims) values (diagonal). */
  stds: readonly (number | ArrayLike<number>)[];
  /** K weights (normalised here); default uniform. */
  weights?: readonly number[];
  /** Sample shape without batch; default [D] where D is the length of the first array mean or std, else [1]. */
  dims?: readonly number[];
}

/** Builds (and validates) a mixture from its spec. */
export function gaussianMixture(spec: GaussianMixtureSpec): GaussianMixture {
  const { means, stds } = spec;
  if (!Array.isArray(means) || means.length === 0)
    throw new TypeError('gaussianMixture: means must be a non-empty array');
  if (!Array.isArray(stds) || stds.length !== means.length) {
    throw new RangeError(
      `gaussianMixture: stds must have one entry per component (${means.length}), got ${stds?.length}`,
    );
  }
  const k = means.length;
  const firstArray = [...means, ...stds].find((v) => typeof v !== 'number') as ArrayLike<number> | undefined;
  const dims = spec.dims ? [...spec.dims] : [firstArray ? firstArray.length : 1];
  const d = numelOf(dims);
  const expand = (v: number | ArrayLike<number>, what: string): Float64Array => {
    if (typeof v === 'number') return new Float64Array(d).fill(v);
    if (v.length !== d)
      throw new RangeError(`gaussianMixture: ${what} has ${v.length} values, expected ${d} (dims [${dims}])`);
    return Float64Array.from(v);
  };
  const m = means.map((v, i) => expand(v, `means[${i}]`));
  const s = stds.map((v, i) => expand(v, `stds[${i}]`));
  for (let i = 0; i < k; i++) {
    if (!m[i].every(Number.isFinite)) throw new RangeError(`gaussianMixture: means[${i}] must be finite`);
    if (!s[i].every((x) => Number.isFinite(x) && x >= 0))
      throw new RangeError(`gaussianMixture: stds[${i}] must be finite and ≥ 0`);
  }
  const w = Float64Array.from(spec.weights ?? new Array(k).fill(1));
  if (w.length !== k)
    throw new RangeError(`gaussianMixture: weights must have ${k} entries, got ${w.length}`);
  const total = w.reduce((a, b) => a + b, 0);
  if (!w.every((x) => Number.isFinite(x) && x >= 0) || !(total > 0)) {
    throw new RangeError('gaussianMixture: weights must be finite, ≥ 0 and not all 0');
  }
  for (let i = 0; i < k; i++) w[i] /= total;
  return { dims, means: m, stds: s, weights: w };
}

/** Per-σ constants of the noised mixture: inverse variances and log-normalisers per component. */
interface NoisedTables {
  invVar: Float64Array[];
  logNorm: Float64Array;
}

function noisedTables(model: GaussianMixture, sigma: number): NoisedTables {
  const s2 = sigma * sigma;
  const invVar = model.stds.map((sd) => sd.map((v) => 1 / (v * v + s2)));
  const logNorm = new Float64Array(model.weights.length);
  for (let c = 0; c < logNorm.length; c++) {
    let acc = Math.log(model.weights[c]);
    for (const iv of invVar[c]) acc += 0.5 * Math.log(iv / (2 * Math.PI));
    logNorm[c] = acc;
  }
  return { invVar, logNorm };
}

/** log r_k(x) of row x[offset, offset + D) into `out` (float64, normalised with log-sum-exp). */
function logResponsibilitiesInto(
  model: GaussianMixture,
  tables: NoisedTables,
  x: ArrayLike<number>,
  offset: number,
  out: Float64Array,
): void {
  const d = model.means[0].length;
  let max = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < out.length; c++) {
    const mu = model.means[c];
    const iv = tables.invVar[c];
    let q = 0;
    for (let i = 0; i < d; i++) {
      const e = x[offset + i] - mu[i];
      q += e * e * iv[i];
    }
    out[c] = tables.logNorm[c] - 0.5 * q;
    if (out[c] > max) max = out[c];
  }
  let sum = 0;
  for (let c = 0; c < out.length; c++) sum += Math.exp(out[c] - max);
  const lse = max + Math.log(sum);
  for (let c = 0; c < out.length; c++) out[c] -= lse;
}

/** log r_k(x) for one row x at noise σ: the log posterior probability of each component. */
export function logResponsibilities(
  model: GaussianMixture,
  x: ArrayLike<number>,
  offset: number,
  sigma: number,
): Float64Array {
  const out = new Float64Array(model.weights.length);
  logResponsibilitiesInto(model, noisedTables(model, sigma), x, offset, out);
  return out;
}

/** The exact score of the σ-noised mixture as a ScoreFn over (B, ...dims). */
export function gaussianMixtureScore(spec: GaussianMixtureSpec | GaussianMixture): AnalyticScoreFn {
  const model = isMixture(spec) ? spec : gaussianMixture(spec);
  const d = model.means[0].length;
  const k = model.weights.length;
  const hasZeroStd = model.stds.some((sd) => sd.some((v) => v === 0));
  const fn = async (x: Tensor<'float32'>, sigma: Float32Array): Promise<Tensor<'float32'>> => {
    assertFloat32(x, 'x');
    const batch = x.dims[0];
    if (x.numel !== batch * d) {
      throw new RangeError(
        `analytic score: x [${x.dims.join(', ')}] does not hold samples of [${model.dims.join(', ')}]`,
      );
    }
    if (!(sigma instanceof Float32Array) || sigma.length !== batch) {
      throw new RangeError(
        `analytic score: sigma must be a Float32Array with one value per batch row (${batch})`,
      );
    }
    const out = new Float32Array(x.numel);
    const acc = new Float64Array(d);
    const logR = new Float64Array(k);
    let tables: NoisedTables | undefined;
    let tablesSigma = Number.NaN;
    for (let b = 0; b < batch; b++) {
      const s = sigma[b];
      if (!(s > 0 || (s === 0 && !hasZeroStd))) {
        throw new RangeError(`analytic score: sigma ${s} must be > 0 (or 0 when every std is > 0)`);
      }
      if (s !== tablesSigma) {
        tables = noisedTables(model, s);
        tablesSigma = s;
      }
      const t = tables as NoisedTables;
      const off = b * d;
      logResponsibilitiesInto(model, t, x.data, off, logR);
      acc.fill(0);
      for (let c = 0; c < k; c++) {
        const r = Math.exp(logR[c]);
        if (r === 0) continue;
        const mu = model.means[c];
        const iv = t.invVar[c];
        for (let i = 0; i < d; i++) acc[i] += r * (mu[i] - x.data[off + i]) * iv[i];
      }
      for (let i = 0; i < d; i++) out[off + i] = acc[i];
    }
    return new Tensor('float32', out, x.dims);
  };
  return Object.assign(fn, { model });
}

/** The exact score of N(mean, diag(std²)) noised at σ: (mean − x)/(std² + σ²). */
export function gaussianScore(
  mean: number | ArrayLike<number>,
  std: number | ArrayLike<number>,
  dims?: readonly number[],
): AnalyticScoreFn {
  return gaussianMixtureScore({ means: [mean], stds: [std], dims });
}

/**
 * n exact samples (n, ...dims) of the (noise-free) mixture. Draws, from `generator`: randn (n, 2) to pick
 * components (the angle of a 2-D normal is uniform), then randn (n, ...dims) for the values.
 */
export function sampleExact(
  model: GaussianMixture | AnalyticScoreFn,
  n: number,
  generator?: Generator | Generator[],
): { samples: Tensor<'float32'>; components: Int32Array } {
  const m = isMixture(model) ? model : model.model;
  checkInteger(n, 'n', 1);
  const u = drawNoise([n, 2], generator).data;
  const z = drawNoise([n, ...m.dims], generator).data;
  const d = m.means[0].length;
  const out = new Float32Array(n * d);
  const components = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const uniform = Math.atan2(u[2 * i + 1], u[2 * i]) / (2 * Math.PI) + 0.5;
    components[i] = pickComponent(m.weights, uniform);
    const mu = m.means[components[i]];
    const sd = m.stds[components[i]];
    for (let j = 0; j < d; j++) out[i * d + j] = mu[j] + sd[j] * z[i * d + j];
  }
  return { samples: new Tensor('float32', out, [n, ...m.dims]), components };
}

/** The component whose cumulative weight first exceeds u ∈ [0, 1]. */
function pickComponent(weights: Float64Array, u: number): number {
  let acc = 0;
  for (let c = 0; c < weights.length; c++) {
    acc += weights[c];
    if (u < acc) return c;
  }
  return weights.length - 1;
}

/** The most likely component of each row of x (B, ...dims) at noise σ (0 for clean data). */
export function classifyComponents(model: GaussianMixture, x: Tensor<'float32'>, sigma = 0): Int32Array {
  const d = model.means[0].length;
  const batch = x.numel / d;
  const out = new Int32Array(batch);
  const tables = noisedTables(model, sigma);
  const logR = new Float64Array(model.weights.length);
  for (let b = 0; b < batch; b++) {
    logResponsibilitiesInto(model, tables, x.data, b * d, logR);
    let best = 0;
    for (let c = 1; c < logR.length; c++) if (logR[c] > logR[best]) best = c;
    out[b] = best;
  }
  return out;
}

function isMixture(v: unknown): v is GaussianMixture {
  return (
    typeof v === 'object' &&
    v !== null &&
    'means' in v &&
    'weights' in v &&
    (v as GaussianMixture).weights instanceof Float64Array
  );
}
