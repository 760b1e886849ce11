/**
 * The contract between the likelihood code and a score model: the score and its input vector–Jacobian
 * product (VJP), the two things score_sde's `likelihood.py` asks of the network (`drift_fn` and, through
 * `torch.autograd.grad`, `div_fn`).
 */
import type { Tensor } from '../tensor.js';

/** score(x, σ) and d/dx Σ(score(x, σ)·v) for a batch, one σ per row. */
export interface ScoreVjp {
  /** ∇x log p_σ(x), (B, C, H, W). */
  score: Tensor<'float32'>;
  /** vᵀ·∂score/∂x per row, (B, C, H, W). The score's Jacobian is symmetric (a Hessian), so this is also J·v. */
  vjp: Tensor<'float32'>;
}

/**
 * A score network with its input gradient: (x (B, C, H, W), σ (B), v (B, C, H, W)) → { score, vjp }.
 * Any batch size B; an adapter over a fixed-batch graph splits and pads.
 */
export type ScoreVjpFn = (
  x: Tensor<'float32'>,
  sigma: Float32Array,
  v: Tensor<'float32'>,
) => Promise<ScoreVjp>;

/** How the divergence of the drift is evaluated (score_sde `hutchinson_type`, plus the exact trace). */
export type DivergenceMethod = 'hutchinson-rademacher' | 'hutchinson-gaussian' | 'exact';

export const DIVERGENCE_METHODS: readonly DivergenceMethod[] = [
  'hutchinson-rademacher',
  'hutchinson-gaussian',
  'exact',
];
