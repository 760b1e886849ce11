/**
 * The predictor and corrector updates of the Score SDE paper that diffusers' scheduler lacks, in
 * float32 arithmetic like torch (every op rounded to float32), over flat arrays:
 *   x_mean = x + Δ·score,  x = x_mean + std·z.
 */

/** A noise-adding update: x_mean = x + step·score, x = x_mean + std·z (float32). */
export function langevinLikeUpdate(
  x: Float32Array,
  score: Float32Array,
  noise: Float32Array,
  step: number,
  std: number,
): { prev: Float32Array; mean: Float32Array } {
  const f = Math.fround;
  const st = f(step);
  const sd = f(std);
  const mean = new Float32Array(x.length);
  const prev = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    mean[i] = f(x[i] + f(st * score[i]));
    prev[i] = f(mean[i] + f(sd * noise[i]));
  }
  return { prev, mean };
}

/**
 * Euler–Maruyama on the reverse VE SDE from σ to σnext (score_sde EulerMaruyamaPredictor): the drift and
 * diffusion are evaluated at σ, so Δ = g(t)²·Δt = 2σ²·ln(σ/σnext) (exact for the geometric schedule);
 * the final step to σnext = 0 takes Δ = σ² (Tweedie's denoising step, as the paper's noise removal).
 */
export function eulerMaruyamaStep(sigma: number, sigmaNext: number): { step: number; std: number } {
  const step = sigmaNext > 0 ? 2 * sigma * sigma * Math.log(sigma / sigmaNext) : sigma * sigma;
  return { step, std: Math.sqrt(step) };
}

/**
 * Ancestral sampling for VE (score_sde AncestralSamplingPredictor, the SMLD/NCSN ancestral step):
 * mean x + (σ² − σnext²)·score, std σnext·√(σ² − σnext²)/σ, in float32 like torch.
 */
export function ancestralStep(sigma: number, sigmaNext: number): { step: number; std: number } {
  const f = Math.fround;
  const s2 = f(f(sigma) * f(sigma));
  const a2 = f(f(sigmaNext) * f(sigmaNext));
  const step = f(s2 - a2);
  return { step, std: f(Math.sqrt(f(f(a2 * step) / s2))) };
}

/** Annealed Langevin dynamics (score_sde AnnealedLangevinDynamics, VE): step ε = 2·(snr·σ)², std √(2ε). */
export function annealedLangevinStep(snr: number, sigma: number): { step: number; std: number } {
  const f = Math.fround;
  const a = f(f(snr) * f(sigma));
  const step = f(f(a * a) * 2);
  return { step, std: f(Math.sqrt(f(step * 2))) };
}
