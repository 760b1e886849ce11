/**
 * The arguments of the sinusoidal time embeddings, computed on the host in float32 with torch's exact
 * operation order (each product rounded to float32), so that only sin/cos rounding is left to the graph.
 * The magnitudes reach ~1e3, where computing in double instead would move the embedding by ~1e-4.
 */
const f32 = Math.fround;

/**
 * get_timestep_embedding's argument t · exp(−ln(max_period) · i / (half − shift)), (B, half) row-major:
 * exponent = f32(f32(−ln 10000) · i) / f32(half − shift), emb = exp(exponent), arg = f32(t) · emb.
 */
export function positionalArgument(
  timesteps: Float32Array,
  dim: number,
  downscaleFreqShift: number,
  maxPeriod = 10000,
): Float32Array {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  const negLog = f32(-Math.log(maxPeriod));
  const denom = f32(half - downscaleFreqShift);
  for (let i = 0; i < half; i++) freqs[i] = f32(Math.exp(f32(f32(negLog * i) / denom)));
  const out = new Float32Array(timesteps.length * half);
  for (let b = 0; b < timesteps.length; b++) {
    for (let i = 0; i < half; i++) out[b * half + i] = f32(timesteps[b] * freqs[i]);
  }
  return out;
}

/** GaussianFourierProjection's argument ((log σ · W) · 2) · f32(π), (B, W.length) row-major. */
export function fourierArgument(sigmas: Float32Array, w: Float32Array): Float32Array {
  const pi = f32(Math.PI);
  const out = new Float32Array(sigmas.length * w.length);
  for (let b = 0; b < sigmas.length; b++) {
    const x = f32(Math.log(sigmas[b]));
    for (let i = 0; i < w.length; i++) out[b * w.length + i] = f32(f32(f32(x * w[i]) * 2) * pi);
  }
  return out;
}
