/**
 * The training data's Gaussian, fitted once and kept beside a model: `<pipeline folder>/gaussian.safetensors`
 * (mean, eigenvalues, eigenvectors as float32, the kind and counts as metadata). Python diffusers ignores the
 * file; scoresde's evaluate, training log and the Gaussian safety net of the samplers read it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../data/types.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { fitGaussian, type GaussianStatistics } from '../math/gaussian.js';
import { Tensor } from '../tensor.js';
import { gaussianFromSafetensors } from './gaussian-format.js';

export const GAUSSIAN_FILE = 'gaussian.safetensors';

/** Fits the Gaussian to the first `maxCount` images of a data set (default: all). */
export async function fitDatasetGaussian(
  data: ImageDataset,
  maxCount = data.length,
): Promise<GaussianStatistics> {
  const count = Math.min(maxCount, data.length);
  return fitGaussian((i, out) => data.read(i, out), count, data.channels * data.height * data.width);
}

/** Writes the statistics as a safetensors file (atomically). */
export async function saveGaussian(path: string, g: GaussianStatistics): Promise<void> {
  const k = g.eigenvalues.length;
  await saveSafetensors(
    path,
    {
      mean: new Tensor('float32', Float32Array.from(g.mean), [g.dim]),
      eigenvalues: new Tensor('float32', Float32Array.from(g.eigenvalues), [k]),
      eigenvectors: new Tensor('float32', Float32Array.from(g.eigenvectors), [k, g.dim]),
    },
    {
      format: 'scoresde-gaussian',
      kind: g.kind,
      count: String(g.count),
      residual_variance: String(g.residualVariance),
    },
  );
}

/** Reads statistics written by {@link saveGaussian}; a malformed file is refused, naming it. */
export async function loadGaussian(path: string): Promise<GaussianStatistics> {
  return gaussianFromSafetensors(await loadSafetensors(path), path);
}

/** The statistics shipped beside a pipeline folder (or its unet/), or undefined when there are none. */
export async function findModelGaussian(modelDir: string): Promise<GaussianStatistics | undefined> {
  for (const p of [join(modelDir, GAUSSIAN_FILE), join(modelDir, '..', GAUSSIAN_FILE)])
    if (existsSync(p)) return loadGaussian(p);
  return undefined;
}
