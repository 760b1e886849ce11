/**
 * Exact likelihoods (bits/dim) through the probability-flow ODE: score_sde's `likelihood.py`
 * (`get_likelihood_fn`) for the VE SDE.
 *
 * The state (x, Δlogp) is integrated from t = eps to t = 1 with adaptive RK45 (the sampler's Dormand–Prince,
 * scipy's `solve_ivp` semantics):
 *   dx/dt      = f(x, t) = −σ(t)²·ln(σmax/σmin)·score(x, σ(t))
 *   dΔlogp/dt  = div f   = −σ(t)²·ln(σmax/σmin)·tr(∂score/∂x)
 * then log p(x) = log N(x(1); 0, σmax²·I) + Δlogp and bits/dim = −log p(x)/(D·ln 2) + 8, the 8 bits of a
 * 256-level discretisation of data in [0, 1] (score_sde's offset `7 − inverse_scaler(−1)` for uncentred data).
 *
 * Each row (x_b, Δlogp_b) is its own ODE system with its own step sizes and error norm, solved side by side
 * with the others (one network call of B rows per RK stage), so a row's bits/dim is the one it gets alone.
 * score_sde solves the whole batch as ONE system (the flattened [x (B·D), Δlogp (B)], one step size chosen by
 * the RMS error norm over all B·D + B components), where a row's result depends on the rows batched with it,
 * up to the solver tolerance or, for a row whose error is swamped by the others', beyond: `sharedSteps`.
 */
import type { GaussianStatistics } from '../math/gaussian.js';
import { UNet2DModel } from '../models/unet-2d/model.js';
import { ScoreSdeVePipeline } from '../pipelines/score-sde-ve.js';
import type { Generator } from '../random/generator.js';
import { defaultGenerator, rand } from '../random/index.js';
import { checkShape, throwIfAborted } from '../samplers/common.js';
import { resolveProbabilityFlow } from '../samplers/probability-flow.js';
import { integrateRk45Rows, type OdeRowsFn } from '../samplers/rk45.js';
import { assertFloat32, Tensor } from '../tensor.js';
import { drawHutchinsonNoise, exactTrace, hutchinsonTrace, type ScoreTraceFn } from './divergence.js';
import { gaussianFlowMap } from './gaussian-switch.js';
import { DIVERGENCE_METHODS, type DivergenceMethod, type ScoreVjpFn } from './types.js';
import { unetScoreVjp } from './unet.js';

export interface LikelihoodStep {
  /** 0-based index of the RK45 round (a batched step in which some row accepted a step). */
  step: number;
  /** ODE time in (eps, 1] reached by every row (the least advanced); the solve ends at 1. */
  t: number;
  /** Progress in [0, 1]: (t − eps)/(1 − eps). */
  fraction: number;
  /** ODE function evaluations so far. */
  nfe: number;
}

export interface LikelihoodOptions {
  /** σ range of the VE SDE (score_sde `sigma_min`, `sigma_max`; diffusers' scheduler config). */
  sigmaMin: number;
  sigmaMax: number;
  /** score_sde `hutchinson_type`, or 'exact' (D VJPs per evaluation); default 'hutchinson-rademacher'. */
  divergence?: DivergenceMethod;
  /**
   * Uniform dequantization (score_sde `uniform_dequantization`): x = (k + u)/256 with k = round(255·v) the
   * 8-bit value and u ~ U[0, 1). Default true. With false the density at the given values is evaluated.
   */
  dequantize?: boolean;
  /**
   * Source of the Hutchinson probe (drawn first, as `randn(data.shape, { generator })` or torch's randint for
   * Rademacher) and then of the dequantization noise (`rand(data.shape, { generator })`). Default: the global
   * generator.
   */
  generator?: Generator;
  /** RK45 tolerances (score_sde `rtol`, `atol`), default 1e-5 each. */
  rtol?: number;
  atol?: number;
  /** Start time of the integration (score_sde `eps`), default 1e-5. */
  eps?: number;
  /**
   * Solve the batch as one ODE system with one step size, exactly as score_sde does (for comparison with
   * it); default false: each row has its own steps, so its result does not depend on the batch.
   */
  sharedSteps?: boolean;
  /** 'exact' only: rows per network call (B rows per basis vector); default 256. */
  exactRowsPerCall?: number;
  /**
   * Above this σ the training data's Gaussian (`gaussian`) gives the score and its Jacobian instead of the
   * network: the likelihood of the model that the samplers' `gaussianAbove` samples (gaussian-switch.ts).
   * Not in score_sde; default: the network at every σ.
   */
  gaussianAbove?: number;
  /** The training data's Gaussian, for `gaussianAbove` (a pipeline passes its gaussian.safetensors). */
  gaussian?: GaussianStatistics;
  /** Called after every accepted RK45 step. */
  onStep?: (info: LikelihoodStep) => void;
  /** Checked before every network call; aborting throws an AbortError. */
  signal?: AbortSignal;
}

export interface LikelihoodResult {
  /** Bits per dimension of each row (score_sde `bpd`). */
  bitsPerDim: Float64Array;
  /** log N(z; 0, σmax²·I) of each row's latent z = x(1) (score_sde `prior_logp`). */
  priorLogp: Float64Array;
  /** ∫ div f dt from eps to 1 of each row (score_sde `delta_logp`). */
  deltaLogp: Float64Array;
  /** The latent z = x(1), (B, C, H, W). */
  latent: Tensor<'float32'>;
  /** ODE function evaluations for the whole batch (score_sde `nfe`, scipy's `nfev`); each evaluates every row. */
  nfe: number;
  /** Network calls: nfe for Hutchinson, nfe·⌈B·D / rows per call⌉ for 'exact'. */
  networkCalls: number;
}

/** log N(z; 0, σ²·I) per row: score_sde's VESDE.prior_logp, in float64. */
export function vePriorLogp(z: ArrayLike<number>, batch: number, sigmaMax: number): Float64Array {
  const d = z.length / batch;
  const out = new Float64Array(batch);
  const s2 = sigmaMax * sigmaMax;
  for (let b = 0; b < batch; b++) {
    let sq = 0;
    for (let i = b * d; i < (b + 1) * d; i++) sq += z[i] * z[i];
    out[b] = (-d / 2) * Math.log(2 * Math.PI * s2) - sq / (2 * s2);
  }
  return out;
}

/** Bits/dim from a log-likelihood of D dimensions, with score_sde's +8 offset for data in [0, 1]. */
export function bitsPerDimOf(logp: number, dims: number): number {
  return -logp / (dims * Math.LN2) + 8;
}

/** (k + u)/256 with k = round(255·v): uniform dequantization of 8-bit data stored as k/255. */
export function dequantize(data: Float32Array, uniform: Float32Array): Float64Array {
  const out = new Float64Array(data.length);
  for (let i = 0; i < out.length; i++) out[i] = (Math.round(data[i] * 255) + uniform[i]) / 256;
  return out;
}

function checkData(data: Tensor<'float32'>): void {
  assertFloat32(data, 'data');
  checkShape(data.dims, 'data');
  for (let i = 0; i < data.data.length; i++) {
    const v = data.data[i];
    if (!(v >= 0 && v <= 1)) throw new RangeError(`data must be in [0, 1]; element ${i} is ${v}`);
  }
}

/** With a pipeline, the σ range defaults to its scheduler config's (`sigma_min`, `sigma_max`). */
export type PipelineLikelihoodOptions = Omit<LikelihoodOptions, 'sigmaMin' | 'sigmaMax'> &
  Partial<Pick<LikelihoodOptions, 'sigmaMin' | 'sigmaMax'>>;

/**
 * score_sde's `likelihood_fn(model, data)`: bits/dim of each row of data (B, C, H, W) in [0, 1].
 * `model` is a pipeline (the σ range defaults to its scheduler's), a UNet2DModel with `sigmaMin` and
 * `sigmaMax` (as dsmLossAndGradients takes it), or any ScoreVjpFn (`sigmaMin` and `sigmaMax` required too).
 * For a pipeline or a UNet, its score + VJP graph is compiled for this call and released after.
 */
export async function computeLikelihood(
  model: ScoreSdeVePipeline,
  data: Tensor<'float32'>,
  options?: PipelineLikelihoodOptions,
): Promise<LikelihoodResult>;
export async function computeLikelihood(
  model: UNet2DModel | ScoreVjpFn,
  data: Tensor<'float32'>,
  options: LikelihoodOptions,
): Promise<LikelihoodResult>;
export async function computeLikelihood(
  model: ScoreVjpFn | UNet2DModel | ScoreSdeVePipeline,
  data: Tensor<'float32'>,
  options: PipelineLikelihoodOptions = {},
): Promise<LikelihoodResult> {
  if (model instanceof ScoreSdeVePipeline) {
    const { sigma_min, sigma_max } = model.scheduler.config;
    return unetLikelihood(model.unet, data, {
      ...(options.gaussianAbove !== undefined && model.gaussian ? { gaussian: model.gaussian } : {}),
      ...options,
      sigmaMin: options.sigmaMin ?? sigma_min,
      sigmaMax: options.sigmaMax ?? sigma_max,
    });
  }
  if (model instanceof UNet2DModel) return unetLikelihood(model, data, options as LikelihoodOptions);
  return solveLikelihood(model, data, options as LikelihoodOptions);
}

/** The likelihood through `unet`'s own score + VJP graph, sized for this batch and divergence method. */
async function unetLikelihood(
  unet: UNet2DModel,
  data: Tensor<'float32'>,
  options: LikelihoodOptions,
): Promise<LikelihoodResult> {
  checkData(data);
  const batch = data.dims[0];
  const d = data.numel / batch;
  const rowsPerCall = options.exactRowsPerCall ?? 256;
  const rows =
    options.divergence === 'exact'
      ? batch * Math.max(1, Math.min(d, Math.floor(rowsPerCall / batch)))
      : batch;
  const fn = await unetScoreVjp(unet, { batchSize: rows, height: data.dims[2], width: data.dims[3] });
  try {
    return await solveLikelihood(fn, data, { ...options, exactRowsPerCall: rows });
  } finally {
    await fn.release();
  }
}

/**
 * The ODE state's layout: one row [x_b (D), Δlogp_b] per image, or with `shared` score_sde's single
 * [x (B·D), Δlogp (B)], whose steps all images share.
 */
function stateLayout(batch: number, d: number, shared: boolean) {
  const n = batch * d;
  return {
    /** The rows at t = eps: the data, and Δlogp(eps) = 0. */
    start: (x0: Float64Array): Float64Array[] =>
      shared
        ? [Float64Array.from({ length: n + batch }, (_, i) => (i < n ? x0[i] : 0))]
        : Array.from({ length: batch }, (_, b) => {
            const r = new Float64Array(d + 1);
            r.set(x0.subarray(b * d, (b + 1) * d));
            return r;
          }),
    /** Image b's time. */
    time: (t: Float64Array, b: number) => (shared ? t[0] : t[b]),
    /** Image b's slots in a derivative (or state): its D values and the index of its Δlogp. */
    slots: (rows: readonly Float64Array[], b: number) =>
      shared
        ? { x: rows[0].subarray(b * d, (b + 1) * d), logp: [rows[0], n + b] as const }
        : { x: rows[b].subarray(0, d), logp: [rows[b], d] as const },
  };
}

/**
 * The probability-flow ODE's right-hand side over `layout`'s rows (dx = c(t)·score, dΔlogp = c(t)·trace),
 * counting its evaluations (`nfe`) and network calls as it goes.
 */
function flowDrift(
  traceFn: ScoreTraceFn,
  layout: ReturnType<typeof stateLayout>,
  dims: readonly number[],
  { sigmaAt, driftScale }: Pick<ReturnType<typeof resolveProbabilityFlow>, 'sigmaAt' | 'driftScale'>,
) {
  const batch = dims[0];
  const n = dims.reduce((a, b) => a * b, 1);
  const d = n / batch;
  const counts = { nfe: 0, networkCalls: 0 };
  const f: OdeRowsFn = async (t, rows) => {
    const x = new Float32Array(n);
    const sigmas = new Float32Array(batch);
    for (let b = 0; b < batch; b++) {
      x.set(layout.slots(rows, b).x, b * d);
      sigmas[b] = sigmaAt(layout.time(t, b));
    }
    const { score, trace, calls } = await traceFn(new Tensor('float32', x, dims), sigmas);
    counts.nfe++;
    counts.networkCalls += calls;
    const dy = rows.map((r) => new Float64Array(r.length));
    for (let b = 0; b < batch; b++) {
      const c = driftScale(layout.time(t, b));
      const { x: out, logp } = layout.slots(dy, b);
      for (let i = 0; i < d; i++) out[i] = c * score[b * d + i];
      logp[0][logp[1]] = c * trace[b];
    }
    return dy;
  };
  return Object.assign(counts, { f });
}

/** The divergence method and exact rows per call, checked. */
function checkMethod(options: LikelihoodOptions): { method: DivergenceMethod; rowsPerCall: number } {
  const method = options.divergence ?? 'hutchinson-rademacher';
  if (!DIVERGENCE_METHODS.includes(method))
    throw new RangeError(`divergence must be one of ${DIVERGENCE_METHODS.join(', ')}, got ${method}`);
  const rowsPerCall = options.exactRowsPerCall ?? 256;
  if (!(Number.isInteger(rowsPerCall) && rowsPerCall >= 1))
    throw new RangeError(`exactRowsPerCall must be an integer ≥ 1, got ${rowsPerCall}`);
  return { method, rowsPerCall };
}

/** The rows' ODE from eps to tEnd (no step when tEnd ≤ eps), with progress in its own span. */
async function integrateFlow(
  drift: ReturnType<typeof flowDrift>,
  start: Float64Array[],
  eps: number,
  tEnd: number,
  o: { rtol: number; atol: number; onStep?: (info: LikelihoodStep) => void },
): Promise<Float64Array[]> {
  if (!(tEnd > eps)) return start;
  const { y } = await integrateRk45Rows(drift.f, eps, start, tEnd, {
    rtol: o.rtol,
    atol: o.atol,
    onRound: (t, _rows, step) => {
      const tReached = Math.min(...t); // the row furthest from the end
      o.onStep?.({ step, t: tReached, fraction: (tReached - eps) / (tEnd - eps), nfe: drift.nfe });
    },
  });
  return y;
}

/**
 * The Gaussian switch of `o`, checked: its σ and statistics when `gaussianAbove` is set (which then needs
 * `gaussian`, of this data's size), else undefined.
 */
function gaussianSwitch(
  o: LikelihoodOptions,
  d: number,
): { sigma: number; g: GaussianStatistics } | undefined {
  const sigma = o.gaussianAbove;
  if (sigma === undefined) return undefined;
  if (!(sigma > 0 && Number.isFinite(sigma)))
    throw new RangeError(`gaussianAbove must be a finite σ > 0, got ${sigma}`);
  if (!o.gaussian)
    throw new RangeError(
      "likelihood: gaussianAbove needs the training data's Gaussian (gaussian.safetensors beside the model)",
    );
  if (o.gaussian.dim !== d)
    throw new RangeError(`the Gaussian statistics have ${o.gaussian.dim} values per image, the data ${d}`);
  return { sigma, g: o.gaussian };
}

/** Bits/dim of `data` under `model`: the probability-flow ODE from eps to 1 with the divergence alongside. */
async function solveLikelihood(
  model: ScoreVjpFn,
  data: Tensor<'float32'>,
  options: LikelihoodOptions,
): Promise<LikelihoodResult> {
  checkData(data);
  const { method, rowsPerCall } = checkMethod(options);
  const flow = resolveProbabilityFlow(options);
  const { rtol, atol, eps } = flow;
  const generator = options.generator ?? defaultGenerator;
  const { signal } = options;
  throwIfAborted(signal);
  const top = gaussianSwitch(options, data.numel / data.dims[0]);

  // Random draws in score_sde's order: the probe (likelihood_fn), then the dequantization noise (data).
  let traceFn: ScoreTraceFn;
  if (method === 'exact') traceFn = exactTrace(model, rowsPerCall, signal);
  else traceFn = hutchinsonTrace(model, drawHutchinsonNoise(method, data.dims, generator), signal);
  const x0 =
    options.dequantize === false
      ? Float64Array.from(data.data)
      : dequantize(data.data, rand(data.dims, { generator }).data);

  const batch = data.dims[0];
  const n = data.numel;
  const d = n / batch;
  const layout = stateLayout(batch, d, options.sharedSteps === true);
  // With the Gaussian above σ_s the ODE ends at σ_s: from there to σmax the flow is the Gaussian's, in closed form.
  const tEnd =
    top && top.sigma < options.sigmaMax
      ? Math.max(eps, Math.log(top.sigma / options.sigmaMin) / flow.logRatio)
      : 1;
  const drift = flowDrift(traceFn, layout, data.dims, flow);
  const rows = await integrateFlow(drift, layout.start(x0), eps, tEnd, {
    rtol,
    atol,
    onStep: options.onStep,
  });
  const z = new Float64Array(n);
  const deltaLogp = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    const { x, logp } = layout.slots(rows, b);
    deltaLogp[b] = logp[0][logp[1]];
    if (top && tEnd < 1) {
      const mapped = gaussianFlowMap(top.g, x, flow.sigmaAt(tEnd), options.sigmaMax);
      z.set(mapped.x, b * d);
      deltaLogp[b] += mapped.logDet;
    } else z.set(x, b * d);
  }
  const priorLogp = vePriorLogp(z, batch, options.sigmaMax);
  const bitsPerDim = new Float64Array(batch);
  for (let b = 0; b < batch; b++) bitsPerDim[b] = bitsPerDimOf(priorLogp[b] + deltaLogp[b], d);
  const latent = new Tensor('float32', Float32Array.from(z), data.dims);
  return { bitsPerDim, priorLogp, deltaLogp, latent, nfe: drift.nfe, networkCalls: drift.networkCalls };
}
