/**
 * σ schedules (descending, ending in a final 0 where the sampler steps down to noise-free data).
 */
import { checkInteger, checkPositive } from './common.js';

/**
 * EDM's schedule (Karras et al. 2022, eq. 5): σ_i = (σmax^(1/ρ) + i/(n-1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ
 * for i < n, then σ_n = 0. Returns n + 1 values in float64.
 */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): Float64Array {
  checkInteger(n, 'steps', 1);
  checkSigmaRange(sigmaMin, sigmaMax);
  checkPositive(rho, 'rho');
  const out = new Float64Array(n + 1);
  const a = sigmaMax ** (1 / rho);
  const b = sigmaMin ** (1 / rho);
  for (let i = 0; i < n; i++) out[i] = (a + (n === 1 ? 0 : i / (n - 1)) * (b - a)) ** rho;
  // Exact ends (the root and power round).
  out[0] = sigmaMax;
  if (n > 1) out[n - 1] = sigmaMin;
  out[n] = 0;
  return out;
}

/**
 * The Score SDE paper's VE schedule in continuous time: σ(t) = σmin·(σmax/σmin)^t at t = linspace(1, eps, n),
 * then a final 0. Geometric in σ (what ScoreSdeVeScheduler uses, in float64 here).
 */
export function geometricSigmas(n: number, sigmaMin: number, sigmaMax: number, eps = 1e-5): Float64Array {
  checkInteger(n, 'steps', 1);
  checkSigmaRange(sigmaMin, sigmaMax);
  checkPositive(eps, 'eps', true);
  const out = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 1 : 1 + (i / (n - 1)) * (eps - 1);
    out[i] = sigmaMin * (sigmaMax / sigmaMin) ** t;
  }
  out[n] = 0;
  return out;
}

/** Throws a RangeError unless 0 < sigmaMin < sigmaMax, both finite. */
export function checkSigmaRange(sigmaMin: number, sigmaMax: number): void {
  checkPositive(sigmaMin, 'sigmaMin');
  checkPositive(sigmaMax, 'sigmaMax');
  if (!(sigmaMin < sigmaMax)) throw new RangeError(`sigmaMin (${sigmaMin}) must be < sigmaMax (${sigmaMax})`);
}
