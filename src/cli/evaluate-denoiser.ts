/** `scoresde evaluate`'s per-σ denoiser table: the model's denoiser against the mean image and the Gaussian one. */
import type { ImageDataset } from '../data/types.js';
import {
  diagnosticSigmas,
  fitDatasetGaussian,
  type PerSigmaReport,
  perSigmaReport,
  unetDenoiser,
} from '../diagnostics/index.js';
import type { ScoreSdeVePipeline } from '../pipelines/index.js';
import { ProgressBar, type ProgressStream } from '../progress.js';

/**
 * Measures the table on the first `count` test images (fixed noise, seed 0) with the model's own Gaussian
 * (gaussian.safetensors), else one fitted to the training images. A model whose images are not the data's
 * shape gets no table: the reason comes back instead.
 */
export async function evaluateDenoiser(
  pipe: ScoreSdeVePipeline,
  data: { train: ImageDataset; test: ImageDataset },
  o: { count: number; batchSize: number; stream: ProgressStream; quiet: boolean; signal?: AbortSignal },
): Promise<PerSigmaReport | string> {
  const { test } = data;
  const d = test.channels * test.height * test.width;
  const [h, w] = pipe.sampleSize;
  const model = [pipe.unet.config.in_channels, h, w];
  const shape = [test.channels, test.height, test.width];
  if (model.join() !== shape.join())
    return `no per-σ denoiser table: the model makes ${model.join('×')} images, the data are ${shape.join('×')}`;
  const count = Math.min(o.count, test.length);
  const bar = (desc: string, total: number) =>
    o.quiet ? undefined : new ProgressBar({ desc, total, unit: 'call', stream: o.stream });
  let gaussian = pipe.gaussian;
  if (!gaussian) {
    const fitting = o.quiet
      ? undefined
      : new ProgressBar({ desc: 'fit Gaussian', total: 1, stream: o.stream });
    gaussian = await fitDatasetGaussian(data.train);
    fitting?.update();
    fitting?.close();
  }
  const images = new Float32Array(count * d);
  for (let i = 0; i < count; i++) await test.read(i, images, i * d);
  const c = pipe.scheduler.config;
  const sigmas = diagnosticSigmas(c.sigma_min, c.sigma_max);
  const progress = bar('per-σ denoiser', Math.ceil(count / o.batchSize) * sigmas.length);
  try {
    return await perSigmaReport({
      denoise: unetDenoiser(pipe.unet),
      images,
      imageShape: [test.channels, test.height, test.width],
      statistics: gaussian,
      sigmas,
      batchSize: o.batchSize,
      signal: o.signal,
      onProgress: () => progress?.update(),
    });
  } finally {
    progress?.close();
  }
}
