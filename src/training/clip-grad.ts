/**
 * torch.nn.utils.clip_grad_norm_ (torch 1.13, norm_type 2) over float32 gradients, with torch's CPU float32
 * rounding: each tensor's 2-norm as the vectorised `norm_cpu` kernel sums it (8 float lanes of fused
 * multiply-adds, the lanes added left to right, then the tail), the total as the norm of the stacked norms,
 * and `clip_coef = max_norm · (1 / (total + 1e-6))` clamped to 1 and multiplied into every gradient.
 */
import { fmaF32 } from '../math/float32.js';

const LANES = 8; // Vectorized<float>::size() on AVX2

/** `torch.norm(x, 2)` of a contiguous float32 tensor, rounded as torch's vectorised CPU kernel. */
export function normTwo(x: Float32Array): number {
  const n = x.length;
  const body = n - (n % LANES);
  const acc = new Float64Array(LANES);
  for (let d = 0; d < body; d += LANES) {
    for (let j = 0; j < LANES; j++) acc[j] = fmaF32(x[d + j], x[d + j], acc[j]);
  }
  let sum = acc[0];
  for (let j = 1; j < LANES; j++) sum = Math.fround(sum + acc[j]);
  for (let d = body; d < n; d++) sum = fmaF32(x[d], x[d], sum);
  return Math.fround(Math.sqrt(sum));
}

/**
 * Scales `grads` in place so that their joint 2-norm is at most `maxNorm` (torch's
 * `clip_grad_norm_(parameters, max_norm)`); returns the total norm before clipping.
 * The order of `grads` is the parameters' order (it decides how the norms are summed).
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  if (grads.length === 0) return 0;
  const norms = Float32Array.from(grads, normTwo);
  const total = normTwo(norms);
  // max_norm / (total_norm + 1e-6): Python's float / Tensor is `reciprocal() * other` in torch.
  const coef = Math.fround(Math.fround(1 / Math.fround(total + Math.fround(1e-6))) * Math.fround(maxNorm));
  // torch multiplies by the clamped coefficient unconditionally; ×1 changes nothing.
  if (coef < 1) {
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] * coef);
  }
  return total;
}
