/** A UNet2DModel score network as a denoiser: D(x) = x + σ²·score(x, σ) (Tweedie's formula). */
import type { UNet2DModel } from '../models/unet-2d/model.js';
import { Tensor } from '../tensor.js';
import type { Denoiser } from './per-sigma.js';

export function unetDenoiser(unet: UNet2DModel): Denoiser {
  return async (x, dims, sigma) => {
    const score = (await unet.forward(new Tensor('float32', x, dims), sigma)).sample.data as Float32Array;
    const s2 = sigma * sigma;
    return x.map((v, i) => v + s2 * score[i]);
  };
}
