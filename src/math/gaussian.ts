/**
 * The Gaussian fitted to a data set, and its closed-form denoiser and score: the best *linear* denoiser
 * (the Wiener filter) that any trained score model should beat at every noise level.
 *
 *   x = x0 + σz,  x0 ~ N(μ, Σ),  Σ = V diag(λ) Vᵀ:
 *   D(x) = E[x0 | x] = μ + V diag(λ / (λ + σ²)) Vᵀ (x − μ)       (the Gaussian denoiser)
 *   score(x, σ) = ∇ log p_σ(x) = (D(x) − x) / σ²
 *   E‖D(x) − x0‖² / d = (1/d) Σ λσ²/(λ + σ²)                       (its error when the data are Gaussian)
 *
 * `full`: all d eigenpairs of the sample covariance (images up to FULL_COVARIANCE_MAX_DIM values, e.g.
 * 1×28×28 or 1×32×32, and at least 2d images). `low-rank`: for larger images, the top k eigenpairs of the covariance of a subset of
 * rows (from their Gram matrix), and the remaining variance spread evenly over the other d − k directions
 * (probabilistic PCA); D then shrinks that residual by ρ/(ρ + σ²).
 */
import { symmetricEigenQl } from './symmetric-eigen.js';

/** Largest image size (values per image) whose full covariance is fitted: its eigendecomposition is O(d³). */
export const FULL_COVARIANCE_MAX_DIM = 1024;
/** Rows used for a low-rank fit, and its rank. */
export const LOW_RANK_ROWS = 1024;
export const LOW_RANK_RANK = 256;

export interface GaussianStatistics {
  /** 'full' covariance, or 'low-rank' (top eigenpairs + isotropic residual). */
  kind: 'full' | 'low-rank';
  /** Values per image. */
  dim: number;
  /** Images the fit used. */
  count: number;
  /** (d) mean image. */
  mean: Float64Array;
  /** (k) eigenvalues, descending. */
  eigenvalues: Float64Array;
  /** (k, d) eigenvectors as rows. */
  eigenvectors: Float64Array;
  /** Variance per direction outside the eigenvectors' span (0 for a full fit). */
  residualVariance: number;
}

/** Reads row i of a data set into `out` (d values). */
export type RowReader = (index: number, out: Float32Array) => Promise<void> | void;

export interface FitGaussianOptions {
  /** Largest d fitted with a full covariance (default FULL_COVARIANCE_MAX_DIM). */
  maxFullDim?: number;
  /** Rows and rank of a low-rank fit (defaults LOW_RANK_ROWS, LOW_RANK_RANK). */
  lowRankRows?: number;
  lowRankRank?: number;
}

/**
 * Fits the Gaussian to `count` rows of d values: the full covariance for d ≤ maxFullDim and count ≥ 2d, else a
 * low-rank one from up to `lowRankRows` evenly spaced rows. float64 throughout.
 */
export async function fitGaussian(
  read: RowReader,
  count: number,
  dim: number,
  options: FitGaussianOptions = {},
): Promise<GaussianStatistics> {
  if (!(Number.isInteger(count) && count >= 2))
    throw new RangeError(`fitGaussian: need ≥ 2 rows, got ${count}`);
  const row = new Float32Array(dim);
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    await read(r, row);
    for (let j = 0; j < dim; j++) mean[j] += row[j];
  }
  for (let j = 0; j < dim; j++) mean[j] /= count;
  // Fewer rows than 2d would leave a (nearly) singular covariance that projects everything onto the rows' span.
  return dim <= (options.maxFullDim ?? FULL_COVARIANCE_MAX_DIM) && count >= 2 * dim
    ? fitFull(read, count, dim, mean, row)
    : fitLowRank(
        read,
        count,
        dim,
        mean,
        row,
        options.lowRankRows ?? LOW_RANK_ROWS,
        options.lowRankRank ?? LOW_RANK_RANK,
      );
}

async function fitFull(
  read: RowReader,
  count: number,
  dim: number,
  mean: Float64Array,
  row: Float32Array,
): Promise<GaussianStatistics> {
  // Lower triangle of Σ (x − μ)(x − μ)ᵀ; the inner loop is one contiguous multiply-add.
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    await read(r, row);
    for (let j = 0; j < dim; j++) c[j] = row[j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const ci = c[i];
      if (ci === 0) continue;
      const base = i * dim;
      for (let j = 0; j <= i; j++) cov[base + j] += ci * c[j];
    }
  }
  for (let i = 0; i < dim * dim; i++) cov[i] /= count;
  const { values, vectors } = symmetricEigenQl(cov, dim);
  // Descending, as rows; round-off can leave tiny negative eigenvalues of a PSD matrix: clamp them to 0.
  const eigenvalues = new Float64Array(dim);
  const eigenvectors = new Float64Array(dim * dim);
  for (let k = 0; k < dim; k++) {
    const src = dim - 1 - k;
    eigenvalues[k] = Math.max(values[src], 0);
    for (let j = 0; j < dim; j++) eigenvectors[k * dim + j] = vectors[j * dim + src];
  }
  return { kind: 'full', dim, count, mean, eigenvalues, eigenvectors, residualVariance: 0 };
}

async function fitLowRank(
  read: RowReader,
  count: number,
  dim: number,
  mean: Float64Array,
  row: Float32Array,
  maxRows: number,
  maxRank: number,
): Promise<GaussianStatistics> {
  const n = Math.min(count, maxRows);
  const x = new Float64Array(n * dim); // centred rows, evenly spaced through the data
  let total = 0; // their total variance: the trace of the covariance the eigenpairs come from
  for (let i = 0; i < n; i++) {
    await read(Math.floor((i * count) / n), row);
    for (let j = 0; j < dim; j++) {
      const v = row[j] - mean[j];
      x[i * dim + j] = v;
      total += v * v;
    }
  }
  total /= n;
  // Covariance eigenpairs from the Gram matrix G = X Xᵀ / n: G u = λ u ⇒ Σ (Xᵀu) = λ (Xᵀu).
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += x[i * dim + k] * x[j * dim + k];
      gram[i * n + j] = gram[j * n + i] = s / n;
    }
  const { values, vectors } = symmetricEigenQl(gram, n);
  // At most half the rows: the other half of their spectrum estimates the residual variance.
  const rank = Math.min(maxRank, Math.floor(n / 2), dim - 1);
  const eigenvalues = new Float64Array(rank);
  const eigenvectors = new Float64Array(rank * dim);
  let kept = 0;
  for (let k = 0; k < rank; k++) {
    const src = n - 1 - k;
    const lambda = Math.max(values[src], 0);
    eigenvalues[k] = lambda;
    kept += lambda;
    if (lambda === 0) continue;
    const v = eigenvectors.subarray(k * dim, (k + 1) * dim);
    for (let i = 0; i < n; i++) {
      const u = vectors[i * n + src];
      for (let j = 0; j < dim; j++) v[j] += u * x[i * dim + j];
    }
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += v[j] * v[j];
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) v[j] /= norm;
  }
  const residualVariance = Math.max(total - kept, 0) / (dim - rank);
  return { kind: 'low-rank', dim, count, mean, eigenvalues, eigenvectors, residualVariance };
}

/**
 * The Gaussian denoiser E[x0 | x] for rows of `x` (each d values) at noise level σ (one per row, or one for
 * all), in float64 internally.
 */
export function gaussianDenoise(
  g: GaussianStatistics,
  x: ArrayLike<number>,
  sigma: number | ArrayLike<number>,
): Float32Array {
  const d = g.dim;
  const rows = x.length / d;
  if (!Number.isInteger(rows))
    throw new RangeError(`gaussianDenoise: ${x.length} values are not rows of ${d}`);
  const k = g.eigenvalues.length;
  const out = new Float32Array(x.length);
  const c = new Float64Array(d);
  const coef = new Float64Array(k);
  const acc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const s2 = (typeof sigma === 'number' ? sigma : sigma[r]) ** 2;
    for (let j = 0; j < d; j++) c[j] = x[r * d + j] - g.mean[j];
    const shrinkRest = g.residualVariance / (g.residualVariance + s2);
    // D − μ = Σ_k (λ_k/(λ_k+σ²)) (v_k·c) v_k + ρ/(ρ+σ²) (c − Σ_k (v_k·c) v_k)
    for (let q = 0; q < k; q++) {
      let dot = 0;
      const base = q * d;
      for (let j = 0; j < d; j++) dot += g.eigenvectors[base + j] * c[j];
      const lambda = g.eigenvalues[q];
      coef[q] = dot * (lambda / (lambda + s2) - shrinkRest);
    }
    const o = r * d;
    for (let j = 0; j < d; j++) out[o + j] = g.mean[j] + shrinkRest * c[j];
    acc.fill(0);
    for (let q = 0; q < k; q++) {
      const a = coef[q];
      if (a === 0) continue;
      const base = q * d;
      for (let j = 0; j < d; j++) acc[j] += a * g.eigenvectors[base + j];
    }
    for (let j = 0; j < d; j++) out[o + j] += acc[j];
  }
  return out;
}

/** The Gaussian's score ∇ log p_σ(x) = (D(x) − x)/σ², per row. */
export function gaussianScore(
  g: GaussianStatistics,
  x: ArrayLike<number>,
  sigma: number | ArrayLike<number>,
) {
  const den = gaussianDenoise(g, x, sigma);
  const d = g.dim;
  return den.map((v, i) => {
    const s = typeof sigma === 'number' ? sigma : sigma[Math.floor(i / d)];
    return (v - x[i]) / (s * s);
  });
}

/** E‖D(x) − x0‖²/d of the Gaussian denoiser when the data are this Gaussian: (1/d) Σ λσ²/(λ + σ²). */
export function gaussianDenoiserMse(g: GaussianStatistics, sigma: number): number {
  const s2 = sigma * sigma;
  let sum = 0;
  for (const lambda of g.eigenvalues) sum += (lambda * s2) / (lambda + s2);
  const rest = g.dim - g.eigenvalues.length;
  if (rest > 0) sum += (rest * g.residualVariance * s2) / (g.residualVariance + s2);
  return sum / g.dim;
}
