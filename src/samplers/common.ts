/**
 * Plumbing shared by every sampler: noise draws (through diffusers' randn_tensor semantics),
 * abort checks, the per-row σ vector a ScoreFn takes, and argument validation.
 */

import { NumericalError } from '../errors.js';
import type { Generator } from '../random/generator.js';
import { randnTensor } from '../random/index.js';
import { numelOf, type Tensor } from '../tensor.js';

/** Standard normal noise of `dims` (B, ...) drawn like diffusers' randn_tensor (a list = one generator per row). */
export function drawNoise(
  dims: readonly number[],
  generator: Generator | Generator[] | undefined,
): Tensor<'float32'> {
  return randnTensor(dims, { generator }) as Tensor<'float32'>;
}

/** x_T = σ_max · z in float32, as torch multiplies `randn(...)` by the float `sigma_max` (diffusers' init_noise_sigma). */
export function initialNoise(
  dims: readonly number[],
  generator: Generator | Generator[] | undefined,
  sigmaMax: number,
): Tensor<'float32'> {
  const x = drawNoise(dims, generator);
  const s = Math.fround(sigmaMax);
  for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i] * s;
  return x;
}

/** x_T = σ_max · z as the float64 state the deterministic σ-space solvers (heun, dpmpp-2m) integrate. */
export function initialState64(
  dims: readonly number[],
  generator: Generator | Generator[] | undefined,
  sigmaMax: number,
): Float64Array {
  const z = drawNoise(dims, generator).data;
  const x = new Float64Array(z.length);
  for (let i = 0; i < x.length; i++) x[i] = z[i] * sigmaMax;
  return x;
}

/** Throws an AbortError (DOMException, as fetch does) once `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') throw reason;
  throw new DOMException('sampling was aborted', 'AbortError');
}

/** One σ per batch row, the form a ScoreFn takes. */
export function sigmaVector(batch: number, sigma: number): Float32Array {
  return new Float32Array(batch).fill(sigma);
}

/** Validates a sample shape (B, ...rest) and returns its batch size and per-row size. */
export function checkShape(shape: readonly number[], name = 'shape'): { batch: number; rowSize: number } {
  if (!Array.isArray(shape) || shape.length < 2) {
    throw new TypeError(
      `${name} must be [batch, ...sample dims] (e.g. [B, C, H, W]), got ${JSON.stringify(shape)}`,
    );
  }
  const n = numelOf(shape);
  if (n === 0) throw new RangeError(`${name} [${shape.join(', ')}] is empty`);
  return { batch: shape[0], rowSize: n / shape[0] };
}

/** Throws a RangeError unless `value` is a finite number > 0 (or ≥ 0 with `allowZero`). */
export function checkPositive(value: number, name: string, allowZero = false): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && (allowZero ? value >= 0 : value > 0);
  if (!ok) throw new RangeError(`${name} must be a finite number ${allowZero ? '≥' : '>'} 0, got ${value}`);
}

/** Throws a RangeError unless `value` is an integer ≥ `min`. */
export function checkInteger(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
}

/** Calls the score function and checks that it kept the shape and dtype. */
export async function callScore(
  score: (x: Tensor<'float32'>, sigma: Float32Array) => Promise<Tensor<'float32'>>,
  x: Tensor<'float32'>,
  sigma: Float32Array,
): Promise<Tensor<'float32'>> {
  const out = await score(x, sigma);
  if (out.dtype !== 'float32' || out.numel !== x.numel) {
    throw new RangeError(
      `score function returned ${out.dtype} [${out.dims.join(', ')}] for input [${x.dims.join(', ')}]; expected the same shape in float32`,
    );
  }
  const bad = countNonFinite(out.data);
  if (bad > 0) {
    // Caught at once: NaN would run through every remaining step and come out as a black image.
    throw new NumericalError(
      `the score network returned ${bad} non-finite values (NaN or ±Infinity) of ${out.numel} at σ = ${sigma[0]}; its weights or inputs are broken`,
    );
  }
  return out;
}

/** How many values are NaN or ±Infinity. */
export function countNonFinite(data: Float32Array): number {
  let bad = 0;
  // x − x is 0 for every finite x and NaN otherwise.
  for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) bad++;
  return bad;
}
