/**
 * An adaptive Dormand–Prince RK5(4) integrator for y' = f(t, y) over a float64 state, following
 * scipy's solve_ivp(method='RK45') (what the Score SDE code uses): FSAL, RMS error norm with
 * scale = atol + rtol·max(|y|, |y_new|), step factor 0.9·err^(−1/5) clipped to [0.2, 10],
 * and scipy's initial step selection.
 *
 * `integrateRk45Rows` solves B independent systems side by side (one batched evaluation of f per stage): each
 * row has its own time, step size, error norm and accept/reject decision, so a row's solution is exactly the
 * one it gets alone. `integrateRk45` is the single system (B = 1).
 */

/** f at each row's own time: `t[b]` and `y[b]` for row b; returns one derivative per row. */
export type OdeRowsFn = (t: Float64Array, y: readonly Float64Array[]) => Promise<Float64Array[]>;
export type OdeFn = (t: number, y: Float64Array) => Promise<Float64Array>;

export interface Rk45Options {
  rtol: number;
  atol: number;
}

export interface Rk45RowsOptions extends Rk45Options {
  /**
   * Called after every round of stages in which some row accepted a step: each row's time, state and
   * f(t, y) there (rows that have reached t1 stay there), and the round's 0-based index.
   */
  onRound?: (t: Float64Array, y: readonly Float64Array[], round: number, f: readonly Float64Array[]) => void;
}

export interface Rk45SingleOptions extends Rk45Options {
  /** Called after every accepted step. */
  onStep?: (t: number, y: Float64Array, stepIndex: number) => void;
}

export interface Rk45Result {
  y: Float64Array;
  /** Evaluations of f. */
  nfev: number;
  acceptedSteps: number;
  rejectedSteps: number;
}

export interface Rk45RowsResult {
  y: Float64Array[];
  /** Batched evaluations of f (each evaluates every row). */
  nfev: number;
  /** Per row. */
  acceptedSteps: number[];
  rejectedSteps: number[];
}

const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1];
const A: number[][] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
];
const B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84];
/** Difference between the 5th- and embedded 4th-order weights (7 stages, the last is f(t+h, y_new)). */
const E = [-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40];
const SAFETY = 0.9;
const MIN_FACTOR = 0.2;
const MAX_FACTOR = 10;
const ERROR_EXPONENT = -1 / 5;

function rmsNorm(v: Float64Array, scale: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) {
    const r = v[i] / scale[i];
    s += r * r;
  }
  return Math.sqrt(s / v.length);
}

/** One row's solver state between rounds. */
interface Row {
  t: number;
  y: Float64Array;
  fy: Float64Array;
  hAbs: number;
  /** The current step was rejected at least once (the next factor is capped at 1). */
  rejected: boolean;
  /** The step of the round in progress: its size (0 once the row has reached t1) and end time. */
  h: number;
  tNew: number;
  done: boolean;
  acceptedSteps: number;
  rejectedSteps: number;
}

/** A row's counters and flags before its first step. */
const START = { rejected: false, h: 0, done: false, acceptedSteps: 0, rejectedSteps: 0 } as const;

/** scipy's select_initial_step (error estimator order 4) for every row: two batched evaluations. */
async function initialSteps(
  f: OdeRowsFn,
  t0: number,
  y: readonly Float64Array[],
  fy: readonly Float64Array[],
  span: number,
  direction: number,
  { rtol, atol }: Rk45Options,
): Promise<number[]> {
  const n = y[0].length;
  const scales = y.map((yb) => Float64Array.from(yb, (v) => atol + Math.abs(v) * rtol));
  const h0 = y.map((yb, b) => {
    const d0 = rmsNorm(yb, scales[b]);
    const d1 = rmsNorm(fy[b], scales[b]);
    // scipy ≥ 1.11 also keeps the probe t0 + h0 inside the interval (a row near a fixed point of f, with d1
    // tiny, would otherwise probe far beyond t1, where σ(t) overflows).
    return Math.min(d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1, span);
  });
  const y1 = y.map((yb, b) => Float64Array.from(yb, (v, i) => v + h0[b] * direction * fy[b][i]));
  const f1 = await f(
    Float64Array.from(h0, (h) => t0 + h * direction),
    y1,
  );
  return y.map((_, b) => {
    const d1 = rmsNorm(fy[b], scales[b]);
    const diff = new Float64Array(n);
    for (let i = 0; i < n; i++) diff[i] = f1[b][i] - fy[b][i];
    const d2 = rmsNorm(diff, scales[b]) / h0[b];
    const h1 =
      d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0[b] * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
    return Math.min(100 * h0[b], h1, span);
  });
}

/** Sets each active row's next step (`h`, `tNew`), clipped to t1; a finished row steps by 0 where it stopped. */
function planSteps(rows: Row[], t1: number, direction: number, { rtol, atol }: Rk45Options): void {
  for (const r of rows) {
    if (r.done) {
      r.h = 0;
      r.tNew = r.t;
      continue;
    }
    const minStep = 10 * Math.abs(nextAfter(r.t, direction) - r.t);
    if (r.hAbs < minStep) {
      if (r.rejected)
        throw new RangeError(
          `RK45: step size fell below ${minStep} at t=${r.t}; the ODE is too stiff for rtol=${rtol}, atol=${atol}`,
        );
      r.hAbs = minStep;
    }
    let tNew = r.t + r.hAbs * direction;
    if (direction * (tNew - t1) > 0) tNew = t1;
    r.tNew = tNew;
    r.h = tNew - r.t;
    r.hAbs = Math.abs(r.h);
  }
}

/** Σ_k w[k]·K[k][i] for k < `stages`, times h, added to y: one Runge–Kutta combination. */
function combine(y: Float64Array, h: number, w: readonly number[], K: Float64Array[], stages: number) {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    let acc = 0;
    for (let k = 0; k < stages; k++) acc += w[k] * K[k][i];
    out[i] = y[i] + h * acc;
  }
  return out;
}

/** Stages 2 to 6 of every row's planned step (one batched evaluation each) into K, and the 5th-order states. */
async function runStages(fun: OdeRowsFn, rows: Row[], K: Float64Array[][]): Promise<Float64Array[]> {
  rows.forEach((r, b) => {
    K[b][0] = r.fy;
  });
  for (let s = 1; s < 6; s++) {
    const stage = rows.map((r, b) => combine(r.y, r.h, A[s], K[b], s));
    const fs = await fun(
      Float64Array.from(rows, (r) => r.t + C[s] * r.h),
      stage,
    );
    rows.forEach((_, b) => {
      K[b][s] = fs[b];
    });
  }
  return rows.map((r, b) => combine(r.y, r.h, B, K[b], 6));
}

/** The RMS error norm of a row's step (its 7 stages in `k`), as scipy scales it. */
function errorNorm(r: Row, yNew: Float64Array, k: Float64Array[], { rtol, atol }: Rk45Options): number {
  const n = yNew.length;
  let errSq = 0;
  for (let i = 0; i < n; i++) {
    let e = 0;
    for (let j = 0; j < 7; j++) e += E[j] * k[j][i];
    const sc = atol + Math.max(Math.abs(r.y[i]), Math.abs(yNew[i])) * rtol;
    const q = (r.h * e) / sc;
    errSq += q * q;
  }
  return Math.sqrt(errSq / n);
}

/** Takes or refuses a row's step by its error norm and sets the next step size; true when taken. */
function acceptOrReject(
  r: Row,
  err: number,
  yNew: Float64Array,
  fNew: Float64Array,
  t1: number,
  direction: number,
) {
  if (err < 1) {
    let factor = err === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * err ** ERROR_EXPONENT);
    if (r.rejected) factor = Math.min(1, factor);
    r.hAbs *= factor;
    r.t = r.tNew;
    r.y = yNew;
    r.fy = fNew;
    r.rejected = false;
    r.acceptedSteps++;
    r.done = direction * (t1 - r.t) <= 0;
    return true;
  }
  r.hAbs *= Math.max(MIN_FACTOR, SAFETY * err ** ERROR_EXPONENT);
  r.rejected = true;
  r.rejectedSteps++;
  return false;
}

/** Integrates every row of `y0` from t0 to t1 (either direction), each with its own adaptive steps. */
export async function integrateRk45Rows(
  f: OdeRowsFn,
  t0: number,
  y0: readonly Float64Array[],
  t1: number,
  opts: Rk45RowsOptions,
): Promise<Rk45RowsResult> {
  const direction = Math.sign(t1 - t0);
  const batch = y0.length;
  let nfev = 0;
  const fun: OdeRowsFn = async (t, y) => {
    nfev++;
    return f(t, y);
  };
  const y = y0.map((v) => Float64Array.from(v));
  if (direction === 0 || batch === 0)
    return { y, nfev, acceptedSteps: y.map(() => 0), rejectedSteps: y.map(() => 0) };
  const fy = await fun(new Float64Array(batch).fill(t0), y);
  const h = await initialSteps(fun, t0, y, fy, Math.abs(t1 - t0), direction, opts);
  const rows = y.map((yb, b): Row => ({ ...START, t: t0, tNew: t0, y: yb, fy: fy[b], hAbs: h[b] }));

  const K: Float64Array[][] = rows.map(() => new Array(7));
  let round = 0;
  while (rows.some((r) => !r.done)) {
    planSteps(rows, t1, direction, opts);
    const yNew = await runStages(fun, rows, K);
    const fNew = await fun(
      Float64Array.from(rows, (r) => r.tNew),
      yNew,
    );
    let anyAccepted = false;
    rows.forEach((r, b) => {
      if (r.done) return;
      K[b][6] = fNew[b];
      const err = errorNorm(r, yNew[b], K[b], opts);
      if (acceptOrReject(r, err, yNew[b], fNew[b], t1, direction)) anyAccepted = true;
    });
    if (anyAccepted) {
      opts.onRound?.(
        Float64Array.from(rows, (r) => r.t),
        rows.map((r) => r.y),
        round,
        rows.map((r) => r.fy),
      );
      round++;
    }
  }
  return {
    y: rows.map((r) => r.y),
    nfev,
    acceptedSteps: rows.map((r) => r.acceptedSteps),
    rejectedSteps: rows.map((r) => r.rejectedSteps),
  };
}

/** Integrates one system from t0 to t1 (either direction) starting at y0. */
export async function integrateRk45(
  f: OdeFn,
  t0: number,
  y0: Float64Array,
  t1: number,
  opts: Rk45SingleOptions,
): Promise<Rk45Result> {
  const r = await integrateRk45Rows(async (t, y) => [await f(t[0], y[0])], t0, [y0], t1, {
    rtol: opts.rtol,
    atol: opts.atol,
    onRound: (t, y, round) => opts.onStep?.(t[0], y[0], round),
  });
  return { y: r.y[0], nfev: r.nfev, acceptedSteps: r.acceptedSteps[0], rejectedSteps: r.rejectedSteps[0] };
}

/** The next float64 after `x` towards sign(direction)·∞ (numpy's nextafter). */
function nextAfter(x: number, direction: number): number {
  if (x === 0) return direction * Number.MIN_VALUE;
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  const away = x > 0 === direction > 0;
  buf.setBigUint64(0, away ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}
