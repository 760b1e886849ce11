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

/** What decides the optimiser's later steps: Adam's and the EMA's counters and tensors, in parameter order. */
export interface ScoreSdeOptimizerState {
  /** Adam's steps (torch `state['step']`) and the EMA's updates (score_sde `num_updates`). */
  adamSteps: number;
  emaUpdates: number;
  /** Adam's moments (torch `exp_avg`, `exp_avg_sq`) and the EMA's shadow, one array per parameter. */
  expAvg: readonly Float32Array[];
  expAvgSq: readonly Float32Array[];
  ema: readonly Float32Array[];
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

  /** The state as views of the optimiser's own arrays (a checkpoint writes them before the next step). */
  state(): ScoreSdeOptimizerState {
    return {
      adamSteps: this.adam.stepCount,
      emaUpdates: this.ema.numUpdates,
      expAvg: this.adam.expAvg,
      expAvgSq: this.adam.expAvgSq,
      ema: this.ema.shadow,
    };
  }

  /** Continues from `state` (copied in): the next update is the one the saved optimiser would have made. */
  restore(state: ScoreSdeOptimizerState): this {
    const sizes = this.adam.expAvg.map((m) => m.length);
    for (const k of ['expAvg', 'expAvgSq', 'ema'] as const) {
      const arrays = state[k];
      if (arrays.length !== sizes.length || arrays.some((a, i) => a.length !== sizes[i]))
        throw new RangeError(`ScoreSdeOptimizer.restore: ${k} does not match the optimiser's parameters`);
    }
    for (const [i, m] of this.adam.expAvg.entries()) m.set(state.expAvg[i]);
    for (const [i, v] of this.adam.expAvgSq.entries()) v.set(state.expAvgSq[i]);
    for (const [i, e] of this.ema.shadow.entries()) e.set(state.ema[i]);
    this.adam.stepCount = state.adamSteps;
    this.ema.numUpdates = state.emaUpdates;
    return this;
  }
}
