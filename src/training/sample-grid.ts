/**
 * The preview a training run writes every `sampleEvery` steps: a grid of images sampled from the EMA
 * weights with a cheap deterministic sampler (DPM-Solver++(2M), a fixed seed, so successive grids differ
 * only by the weights).
 */
import type { UNet2DModel } from '../models/unet-2d/index.js';
import {
  gridShape,
  makeImageGrid,
  numpyToPil,
  type PipelineImage,
  toClampedNHWC,
} from '../pipelines/index.js';
import { Generator } from '../random/index.js';
import { runSampler } from '../samplers/index.js';

export interface SampleGridOptions {
  count: number;
  steps: number;
  sigmaMin: number;
  sigmaMax: number;
  seed: number;
  signal?: AbortSignal;
}

/** Samples `count` images from `unet` and tiles them into one near-square grid. */
export async function sampleGrid(unet: UNet2DModel, options: SampleGridOptions): Promise<PipelineImage> {
  const cfg = unet.config;
  const ss = cfg.sample_size;
  const [height, width] = typeof ss === 'number' ? [ss, ss] : (ss as [number, number]);
  const { sample } = await runSampler(
    'dpmpp-2m',
    async (x, sigma) => (await unet.forward(x, sigma)).sample,
    {
      shape: [options.count, cfg.in_channels, height, width],
      steps: options.steps,
      sigmaMin: options.sigmaMin,
      sigmaMax: options.sigmaMax,
    },
    { generator: new Generator().manualSeed(options.seed), signal: options.signal },
  );
  // 1-channel models give gray images (PNG grayscale), as `sample` writes them.
  const images = numpyToPil(toClampedNHWC(sample));
  const { rows, cols } = gridShape(images.length);
  return makeImageGrid(images, rows, cols);
}
