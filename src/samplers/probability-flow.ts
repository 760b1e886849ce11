/**
 * The probability-flow ODE of the VE SDE (Song et al. 2021, eq. 13), solved with adaptive RK45 as in
 * the paper's code: dx/dt = −½·g(t)²·score(x, σ(t)) with σ(t) = σmin·(σmax/σmin)^t and
 * g(t)² = dσ²/dt = 2σ(t)²·ln(σmax/σmin), integrated between t = 1 (noise) and t = eps (data).
 * Deterministic and invertible: `encodeProbabilityFlow` maps data to noise, `decodeProbabilityFlow` back.
 * Each image is solved with its own step sizes (score_sde solves the batch as one system, whose error norm
 * over all images lets one image's steps be set by another's), so an image's result is the one it gets alone.
 */
import { assertFloat32, type Tensor } from '../tensor.js';
import { checkPositive, checkShape, initialNoise } from './common.js';
import { integrateRk45Rows } from './rk45.js';
import { checkSigmaRange } from './schedules.js';
import { ScoreCaller, toTensor } from './score-caller.js';
import type { SamplerCommon, SamplerResult, ScoreFn } from './types.js';

export interface ProbabilityFlowOptions {
  sigmaMin: number;
  sigmaMax: number;
  /** Relative tolerance of RK45 (score_sde `rtol`), default 1e-5. */
  rtol?: number;
  /** Absolute tolerance of RK45 (score_sde `atol`), default 1e-5. */
  atol?: number;
  /** The ODE runs down to t = eps, i.e. σ = σmin·(σmax/σmin)^eps (diffusers `sampling_eps`), default 1e-5. */
  eps?: number;
  /** After the solve, one Tweedie step x + σ(eps)²·score (score_sde `denoise`); default true when sampling. */
  denoise?: boolean;
}

export interface ProbabilityFlowSampleOptions extends ProbabilityFlowOptions {
  /** Sample shape (B, C, H, W). */
  shape: readonly number[];
}

export interface EncodeResult {
  /** x at t = 1 (σ = σmax); ≈ σmax·N(0, I) when the data follow the model. */
  latent: Tensor<'float32'>;
  nfe: number;
}

/**
 * The resolved settings of the ODE: tolerances, end time, ln(σmax/σmin) and σ(t). Shared with the
 * likelihood (src/likelihood), which integrates the same drift with the log-density alongside.
 */
export function resolveProbabilityFlow(opts: ProbabilityFlowOptions) {
  checkSigmaRange(opts.sigmaMin, opts.sigmaMax);
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-5;
  const eps = opts.eps ?? 1e-5;
  checkPositive(rtol, 'rtol');
  checkPositive(atol, 'atol');
  if (!(eps >= 0 && eps < 1)) throw new RangeError(`eps must be in [0, 1), got ${eps}`);
  const logRatio = Math.log(opts.sigmaMax / opts.sigmaMin);
  const sigmaAt = (t: number) => opts.sigmaMin * Math.exp(logRatio * t);
  /** The drift's factor on the score at t: −½·g(t)² = −σ(t)²·ln(σmax/σmin). */
  const driftScale = (t: number) => {
    const sigma = sigmaAt(t);
    return -sigma * sigma * logRatio;
  };
  return { rtol, atol, eps, logRatio, sigmaAt, driftScale };
}

/** The rows of a flat (B, …) state, each a copy. */
function splitRows(x: Float64Array, batch: number): Float64Array[] {
  const d = x.length / batch;
  return Array.from({ length: batch }, (_, b) => x.slice(b * d, (b + 1) * d));
}

function joinRows(rows: readonly Float64Array[]): Float64Array {
  const d = rows[0].length;
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, b) => {
    out.set(r, b * d);
  });
  return out;
}

/**
 * Integrates every row from tFrom to tTo with its own adaptive steps (one batched network call per RK stage),
 * so a row's solution, and so an image's encoding or decoding, does not depend on the rows batched with it.
 */
async function solve(
  score: ScoreFn,
  x: Float64Array,
  dims: readonly number[],
  tFrom: number,
  tTo: number,
  opts: ProbabilityFlowOptions,
  common: SamplerCommon,
): Promise<{ y: Float64Array; caller: ScoreCaller }> {
  const { rtol, atol, sigmaAt, driftScale, logRatio } = resolveProbabilityFlow(opts);
  const caller = new ScoreCaller(score, dims, common.signal);
  const batch = dims[0];
  // Progress follows the row furthest from the end.
  const behind = (t: Float64Array) => t.reduce((m, v) => (Math.abs(tTo - v) > Math.abs(tTo - m) ? v : m));
  let tPrev = tFrom;
  const { y } = await integrateRk45Rows(
    async (t, rows) => {
      const s = await caller.callRows(joinRows(rows), Float32Array.from(t, sigmaAt));
      const d = s.length / batch;
      return rows.map((_, b) => {
        const c = driftScale(t[b]);
        return Float64Array.from(s.subarray(b * d, (b + 1) * d), (v) => c * v);
      });
    },
    tFrom,
    splitRows(x, batch),
    tTo,
    {
      rtol,
      atol,
      onRound: (ts, rows, step, f) => {
        // Adaptive: the total is an estimate from the last step length.
        const t = behind(ts);
        const remaining = Math.abs(tPrev - t) > 0 ? Math.ceil(Math.abs(tTo - t) / Math.abs(tPrev - t)) : 0;
        tPrev = t;
        common.onStep?.({
          step,
          totalSteps: step + 1 + remaining,
          sigma: sigmaAt(t),
          sample: toTensor(joinRows(rows), dims),
          // f = −σ²·ln(σmax/σmin)·score, so D = y + σ²·score = y − f/ln(σmax/σmin).
          denoised: toTensor(
            joinRows(rows.map((y, b) => Float64Array.from(y, (v, i) => v - f[b][i] / logRatio))),
            dims,
          ),
          nfe: caller.nfe,
        });
      },
    },
  );
  return { y: joinRows(y), caller };
}

/** Maps data x (at t = eps) to the latent at t = 1 by integrating the probability-flow ODE forwards. */
export async function encodeProbabilityFlow(
  score: ScoreFn,
  x: Tensor<'float32'>,
  opts: ProbabilityFlowOptions,
  common: SamplerCommon = {},
): Promise<EncodeResult> {
  assertFloat32(x, 'x');
  checkShape(x.dims, 'x');
  const { eps } = resolveProbabilityFlow(opts);
  const { y, caller } = await solve(score, Float64Array.from(x.data), x.dims, eps, 1, opts, common);
  return { latent: toTensor(y, x.dims), nfe: caller.nfe };
}

/** Maps a latent at t = 1 back to data at t = eps (then the optional denoising step; default off here). */
export async function decodeProbabilityFlow(
  score: ScoreFn,
  latent: Tensor<'float32'>,
  opts: ProbabilityFlowOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  assertFloat32(latent, 'latent');
  checkShape(latent.dims, 'latent');
  const { eps, sigmaAt } = resolveProbabilityFlow(opts);
  const { y, caller } = await solve(score, Float64Array.from(latent.data), latent.dims, 1, eps, opts, common);
  if (opts.denoise ?? false) {
    const d = await caller.denoise(y, sigmaAt(eps));
    return { sample: toTensor(d, latent.dims), nfe: caller.nfe };
  }
  return { sample: toTensor(y, latent.dims), nfe: caller.nfe };
}

/** Samples by drawing σmax·z (score_sde's prior) and decoding it; denoises at the end unless `denoise: false`. */
export async function sampleProbabilityFlow(
  score: ScoreFn,
  opts: ProbabilityFlowSampleOptions,
  common: SamplerCommon = {},
): Promise<SamplerResult> {
  checkShape(opts.shape);
  resolveProbabilityFlow(opts);
  const latent = initialNoise(opts.shape, common.generator, opts.sigmaMax);
  return decodeProbabilityFlow(score, latent, { ...opts, denoise: opts.denoise ?? true }, common);
}
