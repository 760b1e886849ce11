/**
 * score_sde's `ExponentialMovingAverage` (models/ema.py, use_num_updates=True) over float32 parameters:
 * update n (n = 1, 2, …) uses decay_n = min(decay, (1 + n) / (10 + n)) and does
 * `shadow -= (1 − decay_n) · (shadow − param)` with torch's float32 rounding.
 */
export class ExponentialMovingAverage {
  /** The averaged parameters, one per trained parameter. */
  readonly shadow: Float32Array[];
  /** Updates so far (score_sde `num_updates`). */
  numUpdates = 0;

  constructor(
    params: readonly Float32Array[],
    readonly decay: number,
  ) {
    if (!(decay >= 0 && decay <= 1)) throw new RangeError(`EMA decay must be in [0, 1], got ${decay}`);
    this.shadow = params.map((p) => Float32Array.from(p));
  }

  /** The decay update `numUpdates + 1` will use. */
  nextDecay(): number {
    const n = this.numUpdates + 1;
    return Math.min(this.decay, (1 + n) / (10 + n));
  }

  /** One `ema.update(model.parameters())`. */
  update(params: readonly Float32Array[]): void {
    if (params.length !== this.shadow.length) {
      throw new RangeError(`EMA.update: expected ${this.shadow.length} parameters, got ${params.length}`);
    }
    const oneMinusDecay = Math.fround(1 - this.nextDecay());
    this.numUpdates += 1;
    for (let i = 0; i < params.length; i++) {
      const s = this.shadow[i];
      const p = params[i];
      for (let j = 0; j < s.length; j++) {
        s[j] = Math.fround(s[j] - Math.fround(oneMinusDecay * Math.fround(s[j] - p[j])));
      }
    }
  }
}
