/**
 * The Gaussian safety net: above a switch σ, the closed-form score of the training data's Gaussian replaces
 * the network's. An undertrained network's denoiser can be worse than the Gaussian (Wiener) denoiser at large
 * σ (src/diagnostics/per-sigma.ts measures it); there the Gaussian's score is the better guess, and it
 * costs no network call.
 *
 * The noise-norm correction (`gaussianNormAbove`) keeps the network's score direction and gives it the norm of
 * the Gaussian's score. Why: UNet2DModel ends every output path in GroupNorm → SiLU → conv, which divides out
 * each image's feature scale, so the network cannot see how large this image's noise draw is. ‖z‖ of d
 * standard normals varies by 1/√(2d) (2.5 % at 28×28), and the measured per-image error of the network's
 * noise scale is exactly that, at every σ: it carries no information about the draw. The denoiser's error
 * along z is then σ·2.5 % per value, which is most of its error at large σ (92 % at σ = 50 on the bundled
 * model). At large σ, ‖x − D_G(x)‖ = σ²‖score_G‖ is the draw's size to within a fraction of a percent, so
 * the correction removes that error and leaves the network's direction, which holds its knowledge of the
 * image. At small σ the Gaussian's residual no longer measures the noise (it keeps the data's strong
 * directions), so the correction is for large σ only.
 */
import { type GaussianStatistics, gaussianScore } from '../math/gaussian.js';
import { Tensor } from '../tensor.js';
import type { ScoreFn } from './types.js';

/** `score`, with rows whose σ is above `aboveSigma` scored by the Gaussian `g` instead. */
export function gaussianSwitchScore(score: ScoreFn, g: GaussianStatistics, aboveSigma: number): ScoreFn {
  const rowsOf = checkedRows(g, aboveSigma, 'gaussianAbove');
  return async (x, sigma) => {
    const { b, d } = rowsOf(x);
    const gaussianRows = [...sigma].map((s) => s > aboveSigma);
    if (!gaussianRows.some(Boolean)) return score(x, sigma);
    // Rows are independent in the network, so score every row and overwrite the Gaussian ones.
    const out = gaussianRows.every(Boolean)
      ? new Float32Array(x.data.length)
      : Float32Array.from((await score(x, sigma)).data);
    for (let r = 0; r < b; r++) {
      if (!gaussianRows[r]) continue;
      out.set(gaussianScore(g, x.data.subarray(r * d, (r + 1) * d), sigma[r]), r * d);
    }
    return new Tensor('float32', out, x.dims);
  };
}

/**
 * `score`, with each row whose σ is above `aboveSigma` rescaled to the norm of the Gaussian `g`'s score at that
 * row (its direction stays the network's): the noise-norm correction (module comment).
 */
export function gaussianNormScore(score: ScoreFn, g: GaussianStatistics, aboveSigma: number): ScoreFn {
  const rowsOf = checkedRows(g, aboveSigma, 'gaussianNormAbove');
  return async (x, sigma) => {
    const { b, d } = rowsOf(x);
    const net = await score(x, sigma);
    if (![...sigma].some((s) => s > aboveSigma)) return net;
    const out = Float32Array.from(net.data);
    for (let r = 0; r < b; r++) {
      if (!(sigma[r] > aboveSigma)) continue;
      const row = out.subarray(r * d, (r + 1) * d);
      const target = norm(gaussianScore(g, x.data.subarray(r * d, (r + 1) * d), sigma[r]));
      const own = norm(row);
      if (own > 0) for (let i = 0; i < d; i++) row[i] *= target / own;
    }
    return new Tensor('float32', out, x.dims);
  };
}

/** Checks the switch σ of `option`; the returned function checks a sample against the statistics. */
function checkedRows(g: GaussianStatistics, aboveSigma: number, option: string) {
  if (!(aboveSigma > 0 && Number.isFinite(aboveSigma)))
    throw new RangeError(`${option} must be a finite σ > 0, got ${aboveSigma}`);
  return (x: Tensor): { b: number; d: number } => {
    const [b] = x.dims;
    const d = x.data.length / b;
    if (d !== g.dim)
      throw new RangeError(`the Gaussian statistics have ${g.dim} values per image, the sample ${d}`);
    return { b, d };
  };
}

function norm(v: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  return Math.sqrt(sum);
}
