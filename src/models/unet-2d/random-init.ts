/**
 * Random UNet2DModel weights for architecture tests and benchmarks (timing does not depend on the values):
 * torch's default init scale (uniform ±1/√fan_in for convs and linears, norms at weight 1 / bias 0,
 * fourier W ~ 16·N(0, 1)) from a small seeded generator. Not torch's random stream.
 */
import { numelOf, Tensor } from '../../tensor.js';
import type { UNet2DConfig } from './config.js';
import { type StateDict, unetParamSpec } from './weights.js';

/** mulberry32: a tiny deterministic 32-bit generator, uniform in [0, 1). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const isNorm = (name: string) => /(norm\d?|norm_out|group_norm|skip_norm)\.(weight|bias)$/.test(name);

/** A random state dict matching the architecture of `cfg`. */
export function randomStateDict(cfg: UNet2DConfig, seed = 0): StateDict {
  const rand = uniform(seed);
  const out: StateDict = new Map();
  // Fan-in of each module, from its weight shape, so biases share their weight's bound.
  const spec = unetParamSpec(cfg);
  const fanIn = new Map<string, number>();
  for (const [name, dims] of spec) {
    if (name.endsWith('.weight') && dims.length >= 2) fanIn.set(name.slice(0, -7), numelOf(dims.slice(1)));
  }
  for (const [name, dims] of spec) {
    const data = new Float32Array(numelOf(dims));
    if (isNorm(name)) {
      if (name.endsWith('.weight')) data.fill(1);
    } else if (name === 'time_proj.weight' && dims.length === 1) {
      for (let i = 0; i < data.length; i++) {
        // Box–Muller normal, ×16 as GaussianFourierProjection(scale=16).
        data[i] = 16 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      }
    } else {
      const bound = 1 / Math.sqrt(fanIn.get(name.replace(/\.(weight|bias)$/, '')) ?? dims[dims.length - 1]);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rand() - 1) * bound;
    }
    out.set(name, new Tensor('float32', data, dims));
  }
  return out;
}
