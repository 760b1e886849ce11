/**
 * Closed-form probability-flow results for Gaussian data x₀ ~ N(μ, s²·I) under the VE SDE, the exact
 * references of the likelihood tests.
 *
 * The ODE's marginal at time t is p_σ(t) = N(μ, (s² + σ(t)²)·I) with σ(t) = σmin·(σmax/σmin)^t, so the
 * integration starts from the density at σ(eps) (not at σ = 0: σ(0) = σmin, the score model's smallest
 * noise) and the flow map is linear:
 *   z = x(1) = μ + (x − μ)·√((s² + σmax²)/(s² + σ(eps)²)),
 *   Δlogp = ∫ div f dt = (D/2)·ln((s² + σmax²)/(s² + σ(eps)²)),
 * and bits/dim = −(log N(z; 0, σmax²·I) + Δlogp)/(D·ln 2) + 8, with the prior N(0, σmax²·I) of score_sde
 * (not p_σmax, which is centred at μ).
 */
import { bitsPerDimOf, vePriorLogp } from '../../src/likelihood/index.js';

export interface GaussianFlow {
  latent: Float64Array;
  deltaLogp: Float64Array;
  priorLogp: Float64Array;
  bitsPerDim: Float64Array;
}

export function gaussianFlow(
  x: ArrayLike<number>,
  batch: number,
  mu: number,
  s: number,
  sigmaMin: number,
  sigmaMax: number,
  eps: number,
): GaussianFlow {
  const d = x.length / batch;
  const sigmaEps = sigmaMin * (sigmaMax / sigmaMin) ** eps;
  const ratio = (s * s + sigmaMax * sigmaMax) / (s * s + sigmaEps * sigmaEps);
  const latent = Float64Array.from(x, (v) => mu + (v - mu) * Math.sqrt(ratio));
  const deltaLogp = new Float64Array(batch).fill((d / 2) * Math.log(ratio));
  const priorLogp = vePriorLogp(latent, batch, sigmaMax);
  const bitsPerDim = priorLogp.map((p, b) => bitsPerDimOf(p + deltaLogp[b], d));
  return { latent, deltaLogp, priorLogp, bitsPerDim };
}
