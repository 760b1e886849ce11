/**
 * An adaptive Dormand–Prince RK5(4) integrator for y' = f(t, y) over a float64 state, following
 * scipy's solve_ivp(method='RK45') (what the Score SDE code uses): FSAL, RMS error norm with
 * scale = atol + rtol·max(|y|, |y_new|), step factor 0.9·err^(−1/5) clipped to [0.2, 10],
 * and scipy's initial step selection.
 */

export type OdeFn = (t: number, y: Float64Array) => Promise<Float64Array>;

export interface Rk45Options {
  rtol: number;
  atol: number;
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

/** Integrates from t0 to t1 (either direction) starting at y0. */
export async function integrateRk45(
  f: OdeFn,
  t0: number,
  y0: Float64Array,
  t1: number,
  opts: Rk45Options,
): Promise<Rk45Result> {
  const { rtol, atol } = opts;
  const n = y0.length;
  const direction = Math.sign(t1 - t0);
  let nfev = 0;
  const fun = async (t: number, y: Float64Array) => {
    nfev++;
    return f(t, y);
  };
  let t = t0;
  let y = Float64Array.from(y0);
  if (direction === 0) return { y, nfev, acceptedSteps: 0, rejectedSteps: 0 };
  let fy = await fun(t, y);

  // scipy's select_initial_step (error estimator order 4).
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) scale[i] = atol + Math.abs(y[i]) * rtol;
  const d0 = rmsNorm(y, scale);
  const d1 = rmsNorm(fy, scale);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
  const y1 = new Float64Array(n);
  for (let i = 0; i < n; i++) y1[i] = y[i] + h0 * direction * fy[i];
  const f1 = await fun(t + h0 * direction, y1);
  const diff = new Float64Array(n);
  for (let i = 0; i < n; i++) diff[i] = f1[i] - fy[i];
  const d2 = rmsNorm(diff, scale) / h0;
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / 5);
  let hAbs = Math.min(100 * h0, h1, Math.abs(t1 - t0));

  const K: Float64Array[] = new Array(7);
  const yStage = new Float64Array(n);
  let accepted = 0;
  let rejected = 0;
  while (direction * (t1 - t) > 0) {
    const minStep = 10 * Math.abs(nextAfter(t, direction) - t);
    if (hAbs < minStep) hAbs = minStep;
    let stepRejected = false;
    for (;;) {
      if (hAbs < minStep)
        throw new RangeError(
          `RK45: step size fell below ${minStep} at t=${t}; the ODE is too stiff for rtol=${rtol}, atol=${atol}`,
        );
      let tNew = t + hAbs * direction;
      if (direction * (tNew - t1) > 0) tNew = t1;
      const h = tNew - t;
      hAbs = Math.abs(h);

      K[0] = fy;
      for (let s = 1; s < 6; s++) {
        const a = A[s];
        for (let i = 0; i < n; i++) {
          let acc = 0;
          for (let k = 0; k < s; k++) acc += a[k] * K[k][i];
          yStage[i] = y[i] + h * acc;
        }
        K[s] = await fun(t + C[s] * h, yStage);
      }
      const yNew = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let k = 0; k < 6; k++) acc += B[k] * K[k][i];
        yNew[i] = y[i] + h * acc;
      }
      const fNew = await fun(tNew, yNew);
      K[6] = fNew;

      let errSq = 0;
      for (let i = 0; i < n; i++) {
        let e = 0;
        for (let k = 0; k < 7; k++) e += E[k] * K[k][i];
        const sc = atol + Math.max(Math.abs(y[i]), Math.abs(yNew[i])) * rtol;
        const r = (h * e) / sc;
        errSq += r * r;
      }
      const errorNorm = Math.sqrt(errSq / n);
      if (errorNorm < 1) {
        let factor =
          errorNorm === 0 ? MAX_FACTOR : Math.min(MAX_FACTOR, SAFETY * errorNorm ** ERROR_EXPONENT);
        if (stepRejected) factor = Math.min(1, factor);
        hAbs *= factor;
        t = tNew;
        y = yNew;
        fy = fNew;
        accepted++;
        opts.onStep?.(t, y, accepted - 1);
        break;
      }
      hAbs *= Math.max(MIN_FACTOR, SAFETY * errorNorm ** ERROR_EXPONENT);
      stepRejected = true;
      rejected++;
    }
  }
  return { y, nfev, acceptedSteps: accepted, rejectedSteps: rejected };
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
