/**
 * torch.optim.Adam (torch 1.13, the single-tensor CPU path, weight_decay 0, amsgrad off) over float32
 * parameters on the host, with torch's float32 rounding and order of operations, so a run matches
 * PyTorch's within the rounding of the gradients it is fed:
 *   m ← m·β1 + (1−β1)·g          (mul_, then add_ with alpha: a fused multiply-add)
 *   v ← v·β2 + (1−β2)·g·g        (mul_, then addcmul_)
 *   p ← p − (lr/bc1)·m / (√v / √bc2 + ε)   (addcdiv_), bc_i = 1 − β_i^k in double
 */
import { fmaF32 } from '../math/float32.js';

export interface AdamOptions {
  /** torch `betas`; default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** torch `eps`; default 1e-8. */
  eps?: number;
}

/** Adam's moments for a list of float32 parameters, in a fixed order. */
export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** First moments (torch `exp_avg`), one per parameter. */
  readonly expAvg: Float32Array[];
  /** Second moments (torch `exp_avg_sq`). */
  readonly expAvgSq: Float32Array[];
  /** Steps taken (torch `state['step']`). */
  stepCount = 0;

  constructor(sizes: readonly number[], options: AdamOptions = {}) {
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.expAvg = sizes.map((n) => new Float32Array(n));
    this.expAvgSq = sizes.map((n) => new Float32Array(n));
  }

  /** One `optimizer.step()` with learning rate `lr`: updates `params[i]` in place from `grads[i]`. */
  step(params: readonly Float32Array[], grads: readonly Float32Array[], lr: number): void {
    if (params.length !== this.expAvg.length || grads.length !== params.length) {
      throw new RangeError(
        `Adam.step: expected ${this.expAvg.length} parameters and gradients, got ${params.length} and ${grads.length}`,
      );
    }
    this.stepCount += 1;
    const k = this.stepCount;
    // Python floats, rounded to float32 where a kernel receives them as a Scalar.
    const b1 = Math.fround(this.beta1);
    const b2 = Math.fround(this.beta2);
    const oneMinusB1 = Math.fround(1 - this.beta1);
    const oneMinusB2 = Math.fround(1 - this.beta2);
    const stepSize = lr / (1 - this.beta1 ** k);
    const bc2Sqrt = Math.fround(Math.sqrt(1 - this.beta2 ** k));
    const eps = Math.fround(this.eps);
    const value = Math.fround(-stepSize);
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      const g = grads[i];
      const m = this.expAvg[i];
      const v = this.expAvgSq[i];
      if (p.length !== m.length || g.length !== m.length) {
        throw new RangeError(
          `Adam.step: parameter ${i} has ${p.length} values, gradient ${g.length}, state ${m.length}`,
        );
      }
      for (let j = 0; j < p.length; j++) {
        const gj = g[j];
        const mj = fmaF32(gj, oneMinusB1, Math.fround(m[j] * b1));
        const vj = fmaF32(Math.fround(oneMinusB2 * gj), gj, Math.fround(v[j] * b2));
        m[j] = mj;
        v[j] = vj;
        const denom = Math.fround(Math.fround(Math.fround(Math.sqrt(vj)) / bc2Sqrt) + eps);
        p[j] = Math.fround(p[j] + Math.fround(Math.fround(value * mj) / denom));
      }
    }
  }
}
