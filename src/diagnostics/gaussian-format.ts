/**
 * The Gaussian statistics file's format (gaussian.safetensors, written by statistics-file.ts's saveGaussian):
 * its checks, with no Node imports, so the browser build reads the same files.
 */
import { FileFormatError } from '../errors.js';
import type { SafetensorsFile } from '../io/safetensors.js';
import type { GaussianStatistics } from '../math/gaussian.js';
import type { Tensor } from '../tensor.js';

/** The statistics in a parsed safetensors file; a malformed one is refused, naming `file`. */
export function gaussianFromSafetensors(
  { tensors, metadata }: SafetensorsFile,
  file: string,
): GaussianStatistics {
  const bad = (why: string): never => {
    throw new FileFormatError(file, `not a scoresde Gaussian statistics file: ${why}`);
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
