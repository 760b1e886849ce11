/**
 * The Fréchet distance between two Gaussians fitted to feature sets (FID when the features are
 * Inception's; here a Fashion-MNIST classifier's):
 *   d² = ‖μ₁ − μ₂‖² + tr C₁ + tr C₂ − 2 tr (C₁^½ C₂ C₁^½)^½
 * pytorch-fid's `calculate_frechet_distance` takes scipy's `sqrtm(C₁ C₂)` of a non-symmetric product and
 * drops its imaginary part; the symmetric form above has the same trace (C₁C₂ and C₁^½C₂C₁^½ share their
 * spectrum) and needs only symmetric eigendecompositions, so it is real and stable even for singular C₁.
 */
import { matmul, sqrtPsd, symmetricEigen } from './linalg.js';
import type { FeatureStatistics } from './statistics.js';

/** The squared Fréchet distance d² (what FID reports). */
export function frechetDistance(a: FeatureStatistics, b: FeatureStatistics): number {
  const n = a.dim;
  if (b.dim !== n) throw new RangeError(`frechetDistance: feature sizes differ (${a.dim} vs ${b.dim})`);
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let traces = 0;
  for (let i = 0; i < n; i++) traces += a.cov[i * n + i] + b.cov[i * n + i];

  const s = sqrtPsd(a.cov, n);
  // M = S C₂ S: symmetric in exact arithmetic, so only its lower triangle is computed and then mirrored.
  const sc = matmul(s, b.cov, n);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let v = 0;
      for (let k = 0; k < n; k++) v += sc[i * n + k] * s[k * n + j];
      m[i * n + j] = v;
      m[j * n + i] = v;
    }
  }
  let trSqrt = 0;
  for (const l of symmetricEigen(m, n).values) trSqrt += Math.sqrt(Math.max(l, 0));
  return meanTerm + traces - 2 * trSqrt;
}
