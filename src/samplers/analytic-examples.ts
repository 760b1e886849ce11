/**
 * Two ready-made analytic test problems (used by the tests and the sampler benchmark; handy for testing
 * your own sampler): their noised scores and exact samples are known in closed form.
 */
import type { GaussianMixtureSpec } from './analytic.js';

/** A 2-D mixture: three components of different widths (one anisotropic) and weights 0.5 / 0.3 / 0.2. */
export const MIXTURE_2D = Object.freeze({
  means: [
    [-2, 0],
    [2, 0],
    [0, 2.5],
  ],
  stds: [0.3, 0.5, [0.4, 0.2]],
  weights: [0.5, 0.3, 0.2],
} satisfies GaussianMixtureSpec);

/** Shape of the image mixture's samples (C, H, W). */
export const IMAGE_MIXTURE_DIMS = [3, 16, 16];

/**
 * A mixture of 3×16×16 "images" in about [0, 1] (the NCSN++ data range), weights 0.5 / 0.3 / 0.2:
 *   0 "red":  (0.7, 0.4, 0.4) + a shared horizontal wave, std 0.05 per pixel
 *   1 "blue": (0.4, 0.4, 0.7) + the same wave (same luminance as "red"), std 0.05
 *   2 "checker": grey 0.5 ± 0.2 checkerboard, std 0.08
 */
export function imageMixtureSpec(): GaussianMixtureSpec {
  const [channels, height, width] = IMAGE_MIXTURE_DIMS;
  const plane = height * width;
  const image = (f: (c: number, h: number, w: number) => number) => {
    const out = new Float64Array(channels * plane);
    for (let c = 0; c < channels; c++)
      for (let h = 0; h < height; h++)
        for (let w = 0; w < width; w++) out[c * plane + h * width + w] = f(c, h, w);
    return out;
  };
  const wave = (h: number) => 0.1 * Math.sin((2 * Math.PI * h) / height);
  return {
    dims: IMAGE_MIXTURE_DIMS,
    means: [
      image((c, h) => [0.7, 0.4, 0.4][c] + wave(h)),
      image((c, h) => [0.4, 0.4, 0.7][c] + wave(h)),
      image((_, h, w) => 0.5 + 0.2 * (-1) ** (h + w)),
    ],
    stds: [0.05, 0.05, 0.08],
    weights: [0.5, 0.3, 0.2],
  };
}
