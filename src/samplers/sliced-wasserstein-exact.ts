/**
 * Sliced Wasserstein-2 distance from samples to an analytic Gaussian mixture itself (not to samples of it):
 * a projection of a diagonal Gaussian mixture onto a unit vector u is the 1-D mixture Σ w_k N(u·μ_k, Σ u_i² s_ki²),
 * whose quantiles are found by bisection on its CDF. This removes the reference-sample noise from the metric.
 */
import { assertFloat32, type Tensor } from '../tensor.js';
import type { GaussianMixture } from './analytic.js';
import { checkInteger } from './common.js';
import { project, randomDirections } from './sliced-wasserstein.js';

export interface MixtureSlices {
  readonly n: number;
  readonly directions: Float64Array[];
  /** True quantiles at (i + 0.5)/n for each direction. */
  readonly quantiles: Float64Array[];
}

/** Precomputes the mixture's projected quantiles for samples of size n (reusable across sample sets). */
export function mixtureSlices(model: GaussianMixture, n: number, projections = 256, seed = 0): MixtureSlices {
  checkInteger(n, 'n', 1);
  const d = model.means[0].length;
  const directions = randomDirections(d, projections, seed);
  const quantiles = directions.map((u) => {
    const k = model.weights.length;
    const m = new Float64Array(k);
    const s = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      let mu = 0;
      let v = 0;
      for (let i = 0; i < d; i++) {
        mu += u[i] * model.means[c][i];
        v += u[i] * u[i] * model.stds[c][i] ** 2;
      }
      m[c] = mu;
      s[c] = Math.sqrt(v);
    }
    const cdf = (y: number) => {
      let p = 0;
      for (let c = 0; c < k; c++) p += model.weights[c] * normalCdf((y - m[c]) / s[c]);
      return p;
    };
    let lo = Math.min(...Array.from(m, (v, c) => v - 10 * s[c]));
    const hi0 = Math.max(...Array.from(m, (v, c) => v + 10 * s[c]));
    const q = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const target = (i + 0.5) / n;
      // Quantiles increase with i: start the bracket at the previous one.
      let a = lo;
      let b = hi0;
      for (let it = 0; it < 60 && b - a > 1e-12 * (1 + Math.abs(a)); it++) {
        const mid = 0.5 * (a + b);
        if (cdf(mid) < target) a = mid;
        else b = mid;
      }
      q[i] = 0.5 * (a + b);
      lo = a;
    }
    return q;
  });
  return { n, directions, quantiles };
}

/** SW2 between the samples (n, ...dims) and the mixture whose slices were precomputed for this n. */
export function slicedWassersteinToMixture(samples: Tensor<'float32'>, slices: MixtureSlices): number {
  assertFloat32(samples, 'samples');
  const n = samples.dims[0];
  if (n !== slices.n)
    throw new RangeError(`slicedWassersteinToMixture: ${n} samples, slices were made for ${slices.n}`);
  const proj = new Float64Array(n);
  let total = 0;
  slices.directions.forEach((dir, p) => {
    project(samples.data, dir, proj);
    proj.sort();
    const q = slices.quantiles[p];
    let s = 0;
    for (let i = 0; i < n; i++) s += (proj[i] - q[i]) ** 2;
    total += s / n;
  });
  return Math.sqrt(total / slices.directions.length);
}

/** Φ(x), the standard normal CDF (relative error < 1.2e-7, ample for quantiles). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Complementary error function (Numerical Recipes' erfc Chebyshev fit, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
