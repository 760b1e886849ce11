/**
 * Two exact density models of 8-bit images, as yardsticks for a score model's bits/dim under the same protocol
 * (uniform dequantization x = (k + u)/256, bits/dim = −log p(x)/(D ln 2) + 8):
 *  - `pixelHistogram`: every pixel independent, a 256-bin histogram each (add-one smoothed). Its density is
 *    constant on each bin, so its bits/dim is exactly −log2 p(k) per pixel: the dequantization draw drops out.
 *  - `fullGaussian`: one Gaussian over all D pixels, fitted to the dequantized training data in closed form
 *    (mean (k̄ + ½)/256, covariance Cov(k)/256² + I/(12·256²): the uniform noise adds its own variance).
 * Data are N×D row-major 8-bit values (k in 0…255).
 */

export interface DensityBaseline {
  /** bits/dim of each row of `k` (8-bit values, N×D), dequantized with `u` (N×D uniforms in [0, 1)). */
  bitsPerDim(k: Uint8Array, u: Float32Array | Float64Array): Float64Array;
}

function rowCount(k: Uint8Array, d: number, what: string): number {
  if (!Number.isInteger(d) || d < 1)
    throw new RangeError(`${what}: dimension must be a positive integer, got ${d}`);
  if (k.length % d !== 0 || k.length === 0)
    throw new RangeError(`${what}: ${k.length} values are not whole rows of ${d}`);
  return k.length / d;
}

/** Independent pixels, each a smoothed 256-bin histogram of the training values. */
export function pixelHistogram(train: Uint8Array, d: number): DensityBaseline {
  const n = rowCount(train, d, 'pixelHistogram');
  const counts = new Float64Array(d * 256);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) counts[j * 256 + train[r * d + j]]++;
  const log2p = counts.map((c) => Math.log2((c + 1) / (n + 256)));
  return {
    bitsPerDim(k) {
      const rows = rowCount(k, d, 'pixelHistogram');
      const out = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < d; j++) s -= log2p[j * 256 + k[r * d + j]];
        out[r] = s / d;
      }
      return out;
    },
  };
}

/** In-place Cholesky factor (lower triangle) of a symmetric positive-definite D×D matrix; returns log det. */
function choleskyLogDet(a: Float64Array, d: number): number {
  let logDet = 0;
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= a[j * d + k] ** 2;
    if (!(s > 0)) throw new RangeError('fullGaussian: covariance is not positive definite');
    const l = Math.sqrt(s);
    a[j * d + j] = l;
    logDet += 2 * Math.log(l);
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = t / l;
    }
  }
  return logDet;
}

/** One full-covariance Gaussian over the dequantized training rows (the maximum-likelihood fit, in closed form). */
export function fullGaussian(train: Uint8Array, d: number): DensityBaseline {
  const n = rowCount(train, d, 'fullGaussian');
  const meanK = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) meanK[j] += train[r * d + j];
  for (let j = 0; j < d; j++) meanK[j] /= n;
  // Lower triangle of Σ (k − k̄)(k − k̄)ᵀ; the row's centred copy keeps the inner loop one multiply-add.
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) c[j] = train[r * d + j] - meanK[j];
    for (let i = 0; i < d; i++) {
      const ci = c[i];
      if (ci === 0) continue;
      const row = i * d;
      for (let j = 0; j <= i; j++) cov[row + j] += ci * c[j];
    }
  }
  const noise = 1 / 12; // Var(u), u ~ U[0, 1), in units of 1/256
  for (let i = 0; i < d; i++)
    for (let j = 0; j <= i; j++) cov[i * d + j] = (cov[i * d + j] / n + (i === j ? noise : 0)) / 256 ** 2;
  const logDet = choleskyLogDet(cov, d);
  const mean = meanK.map((m) => (m + 0.5) / 256);
  return {
    bitsPerDim(k, u) {
      const rows = rowCount(k, d, 'fullGaussian');
      if (u.length !== k.length)
        throw new RangeError(`fullGaussian: ${u.length} uniforms for ${k.length} values`);
      const out = new Float64Array(rows);
      const z = new Float64Array(d);
      for (let r = 0; r < rows; r++) {
        // Solve L z = x − μ; the Mahalanobis term is |z|².
        let q = 0;
        for (let i = 0; i < d; i++) {
          let t = (k[r * d + i] + u[r * d + i]) / 256 - mean[i];
          for (let j = 0; j < i; j++) t -= cov[i * d + j] * z[j];
          z[i] = t / cov[i * d + i];
          q += z[i] ** 2;
        }
        const logp = -0.5 * (q + logDet + d * Math.log(2 * Math.PI));
        out[r] = -logp / (d * Math.LN2) + 8;
      }
      return out;
    },
  };
}
