/**
 * Calls a ScoreFn on a float64 state and counts network evaluations (NFE). The deterministic
 * solvers (ODE, Heun, DPM-Solver) keep their state in float64 so that solver error, not float32
 * rounding, is what their step sizes control; only the network sees float32.
 */
import { Tensor } from '../tensor.js';
import { callScore, sigmaVector, throwIfAborted } from './common.js';
import type { ScoreFn } from './types.js';

export class ScoreCaller {
  /** Network evaluations so far. */
  nfe = 0;
  private readonly batch: number;

  constructor(
    private readonly score: ScoreFn,
    private readonly dims: readonly number[],
    private readonly signal: AbortSignal | undefined,
  ) {
    this.batch = dims[0];
  }

  /** score(x, σ) for every batch row at the same σ. */
  async call(x: Float64Array, sigma: number): Promise<Float32Array> {
    return this.callRows(x, sigmaVector(this.batch, sigma));
  }

  /** score(x, σ) with one σ per batch row. */
  async callRows(x: Float64Array, sigmas: Float32Array): Promise<Float32Array> {
    throwIfAborted(this.signal);
    const input = new Tensor('float32', Float32Array.from(x), this.dims);
    const out = await callScore(this.score, input, sigmas);
    this.nfe++;
    return out.data;
  }

  /** The VE probability-flow derivative dx/dσ = −σ·score(x, σ) = (x − D(x, σ))/σ. */
  async dxdSigma(x: Float64Array, sigma: number): Promise<Float64Array> {
    const s = await this.call(x, sigma);
    const d = new Float64Array(x.length);
    for (let i = 0; i < d.length; i++) d[i] = -sigma * s[i];
    return d;
  }

  /** The denoiser D(x, σ) = x + σ²·score(x, σ) (Tweedie's formula). */
  async denoise(x: Float64Array, sigma: number): Promise<Float64Array> {
    const s = await this.call(x, sigma);
    const d = new Float64Array(x.length);
    const s2 = sigma * sigma;
    for (let i = 0; i < d.length; i++) d[i] = x[i] + s2 * s[i];
    return d;
  }
}

/** A float32 tensor of `dims` holding a float64 state. */
export function toTensor(x: Float64Array, dims: readonly number[]): Tensor<'float32'> {
  return new Tensor('float32', Float32Array.from(x), dims);
}
