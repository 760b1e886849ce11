/**
 * score_sde's `optimization_manager` and the update half of `get_step_fn` (losses.py), with its EMA
 * (models/ema.py): before step k = 0, 1, …
 *   lr_k = lr · min(k / warmup, 1)      (warmup 0: lr throughout; step 0 has lr 0 but still moves Adam's moments)
 *   clip_grad_norm_(params, grad_clip)  (all trained parameters together)
 *   Adam(β = (0.9, 0.999), ε = 1e-8, weight_decay 0).step()
 *   ema.update(params)                  (decay min(decay, (1 + n) / (10 + n)), n = k + 1)
 */
import { Adam } from '../gradients/adam.js';
import { clipGradNorm, normTwo } from './clip-grad.js';
import { ExponentialMovingAverage } from './ema.js';

export interface OptimizationOptions {
  /** Peak learning rate (score_sde `optim.lr`); default 2e-4. */
  lr?: number;
  /** Linear warmup steps (score_sde `optim.warmup`); default 5000; 0 turns warmup off. */
  warmup?: number;
  /** Largest global gradient 2-norm (score_sde `optim.grad_clip`); default 1; null turns clipping off. */
  gradClip?: number | null;
  /** EMA decay (score_sde `model.ema_rate`); default 0.999. */
  emaDecay?: number;
  /** Adam betas (score_sde `optim.beta1`, 0.999); default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Adam eps (score_sde `optim.eps`); default 1e-8. */
  eps?: number;
}

/** score_sde's defaults (configs/default_ve_configs.py). */
export const OPTIMIZATION_DEFAULTS = Object.freeze({
  lr: 2e-4,
  warmup: 5000,
  gradClip: 1 as number | null,
  emaDecay: 0.999,
  betas: [0.9, 0.999] as const,
  eps: 1e-8,
});

/** The learning rate of step k (0-based): `lr · np.minimum(k / warmup, 1.0)`, in double as Python. */
export function learningRate(step: number, lr: number, warmup: number): number {
  return warmup > 0 ? lr * Math.min(step / warmup, 1) : lr;
}

export interface UpdateResult {
  /** The learning rate used. */
  lr: number;
  /** The global gradient 2-norm before clipping (what clip_grad_norm_ returns). */
  gradNorm: number;
}

/** Adam + warmup + clipping + EMA over a fixed, ordered list of float32 parameters. */
export class ScoreSdeOptimizer {
  readonly options: Required<OptimizationOptions>;
  readonly adam: Adam;
  readonly ema: ExponentialMovingAverage;

  constructor(params: readonly Float32Array[], options: OptimizationOptions = {}) {
    this.options = { ...OPTIMIZATION_DEFAULTS, ...options } as Required<OptimizationOptions>;
    this.adam = new Adam(
      params.map((p) => p.length),
      { betas: this.options.betas, eps: this.options.eps },
    );
    this.ema = new ExponentialMovingAverage(params, this.options.emaDecay);
  }

  /**
   * Step `step` (0-based): clips `grads` in place, updates `params` in place and the EMA.
   * `params` and `grads` are in the order the optimiser was built with.
   */
  update(step: number, params: readonly Float32Array[], grads: readonly Float32Array[]): UpdateResult {
    const { lr: peak, warmup, gradClip } = this.options;
    const lr = learningRate(step, peak, warmup);
    const gradNorm =
      gradClip === null ? normTwo(Float32Array.from(grads, normTwo)) : clipGradNorm(grads, gradClip);
    this.adam.step(params, grads, lr);
    this.ema.update(params);
    return { lr, gradNorm };
  }
}
