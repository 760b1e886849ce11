/**
 * The training data's Gaussian, fitted once and kept beside a model: `<pipeline folder>/gaussian.safetensors`
 * (mean, eigenvalues, eigenvectors as float32, the kind and counts as metadata). Python diffusers ignores the
 * file; scoresde's evaluate, training log and the Gaussian safety net of the samplers read it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageDataset } from '../data/types.js';
import { FileFormatError } from '../errors.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { fitGaussian, type GaussianStatistics } from '../math/gaussian.js';
import { Tensor } from '../tensor.js';

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
  const { tensors, metadata } = await loadSafetensors(path);
  const bad = (why: string): never => {
    throw new FileFormatError(path, `not a scoresde Gaussian statistics file: ${why}`);
  };
  if (metadata.format !== 'scoresde-gaussian') bad("metadata 'format' is not 'scoresde-gaussian'");
  const kind = metadata.kind;
  if (kind !== 'full' && kind !== 'low-rank') bad(`unknown kind '${kind}'`);
  const count = Number(metadata.count);
  const residualVariance = Number(metadata.residual_variance);
  if (!(Number.isSafeInteger(count) && count >= 2)) bad(`count '${metadata.count}' is not an integer ≥ 2`);
  if (!(residualVariance >= 0 && Number.isFinite(residualVariance)))
    bad('residual_variance is not a finite number ≥ 0');
  const mean = tensors.get('mean');
  const values = tensors.get('eigenvalues');
  const vectors = tensors.get('eigenvectors');
  if (!mean || !values || !vectors) bad('needs tensors mean, eigenvalues and eigenvectors');
  const m = mean as Tensor;
  const l = values as Tensor;
  const v = vectors as Tensor;
  if ([m, l, v].some((t) => t.dtype !== 'float32')) bad('tensors must be float32');
  const dim = m.dims[0];
  const k = l.dims[0];
  if (
    m.dims.length !== 1 ||
    l.dims.length !== 1 ||
    v.dims.length !== 2 ||
    v.dims[0] !== k ||
    v.dims[1] !== dim
  )
    bad(`shapes [${m.dims}], [${l.dims}], [${v.dims}] are not [d], [k], [k, d]`);
  if (k > dim || (kind === 'full' && k !== dim)) bad(`${k} eigenpairs for ${dim} values (${kind})`);
  for (const t of [m, l, v])
    for (const x of t.data as Float32Array) if (!Number.isFinite(x)) bad('non-finite value');
  for (const x of l.data as Float32Array) if (x < 0) bad('negative eigenvalue');
  return {
    kind: kind as GaussianStatistics['kind'],
    dim,
    count,
    mean: Float64Array.from(m.data as Float32Array),
    eigenvalues: Float64Array.from(l.data as Float32Array),
    eigenvectors: Float64Array.from(v.data as Float32Array),
    residualVariance,
  };
}

/** The statistics shipped beside a pipeline folder (or its unet/), or undefined when there are none. */
export async function findModelGaussian(modelDir: string): Promise<GaussianStatistics | undefined> {
  for (const p of [join(modelDir, GAUSSIAN_FILE), join(modelDir, '..', GAUSSIAN_FILE)])
    if (existsSync(p)) return loadGaussian(p);
  return undefined;
}
