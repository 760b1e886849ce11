/**
 * The Gaussian safety net: above a switch σ, the closed-form score of the training data's Gaussian replaces
 * the network's. An undertrained network's denoiser can be worse than the Gaussian (Wiener) denoiser at large
 * σ (src/diagnostics/per-sigma.ts measures it); there the Gaussian's score is the better guess, and it
 * costs no network call.
 */
import { type GaussianStatistics, gaussianScore } from '../math/gaussian.js';
import { Tensor } from '../tensor.js';
import type { ScoreFn } from './types.js';

/** `score`, with rows whose σ is above `aboveSigma` scored by the Gaussian `g` instead. */
export function gaussianSwitchScore(score: ScoreFn, g: GaussianStatistics, aboveSigma: number): ScoreFn {
  if (!(aboveSigma > 0 && Number.isFinite(aboveSigma)))
    throw new RangeError(`gaussianAbove must be a finite σ > 0, got ${aboveSigma}`);
  return async (x, sigma) => {
    const [b] = x.dims;
    const d = x.data.length / b;
    if (d !== g.dim)
      throw new RangeError(`the Gaussian statistics have ${g.dim} values per image, the sample ${d}`);
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
