/** Mean and covariance of a feature set in float64, as pytorch-fid's `calculate_activation_statistics`. */

export interface FeatureStatistics {
  /** Feature dimension d. */
  dim: number;
  /** Number of feature vectors. */
  count: number;
  /** (d) mean. */
  mean: Float64Array;
  /** (d, d) covariance with the unbiased 1/(count − 1) normalisation (numpy's `np.cov(rowvar=False)`). */
  cov: Float64Array;
}

/** Statistics of `features`, row-major (count, dim). Two passes (mean, then centred products) for accuracy. */
export function featureStatistics(features: Float32Array | Float64Array, dim: number): FeatureStatistics {
  if (!Number.isInteger(dim) || dim < 1)
    throw new RangeError(`featureStatistics: dim must be ≥ 1, got ${dim}`);
  const count = features.length / dim;
  if (!Number.isInteger(count) || count < 2) {
    throw new RangeError(
      `featureStatistics: need at least 2 rows of ${dim} features, got ${features.length} values`,
    );
  }
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) for (let j = 0; j < dim; j++) mean[j] += features[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= count;
  for (const m of mean)
    if (!Number.isFinite(m)) throw new RangeError('featureStatistics: non-finite feature');

  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < dim; j++) row[j] = features[r * dim + j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const xi = row[i];
      if (xi === 0) continue;
      const base = i * dim;
      for (let j = i; j < dim; j++) cov[base + j] += xi * row[j];
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const c = cov[i * dim + j] / (count - 1);
      cov[i * dim + j] = c;
      cov[j * dim + i] = c;
    }
  }
  return { dim, count, mean, cov };
}
