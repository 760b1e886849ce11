/** Small analytic problems for the likelihood tests: 1×4×4 "images" in [0, 1] and a 3-component mixture. */
import type { GaussianMixtureSpec } from '../../src/samplers/analytic.js';
import { Tensor } from '../../src/tensor.js';

export const DIMS = [1, 4, 4];

/** B 8-bit images k/255 of DIMS: a deterministic pattern per row. */
export function images8bit(batch: number, phase = 0): Tensor<'float32'> {
  const d = 16;
  const data = new Float32Array(batch * d);
  for (let i = 0; i < data.length; i++)
    data[i] = Math.round(255 * (0.5 + 0.3 * Math.sin(i * 1.7 + phase))) / 255;
  return new Tensor('float32', data, [batch, ...DIMS]);
}

/** A mixture over DIMS with unequal weights, widths and one anisotropic component. */
export function mixtureSpec(): GaussianMixtureSpec {
  const ramp = Array.from({ length: 16 }, (_, i) => 0.2 + 0.04 * i);
  const aniso = Array.from({ length: 16 }, (_, i) => 0.05 + 0.01 * (i % 5));
  return { dims: DIMS, means: [0.3, ramp, 0.7], stds: [0.1, aniso, 0.15], weights: [0.5, 0.3, 0.2] };
}
