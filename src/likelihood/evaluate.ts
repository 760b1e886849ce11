/**
 * Bits/dim of a dataset with score_sde's evaluation protocol (`run_lib.evaluate`, `enable_bpd`): the first
 * `count` images in batches, `repeats` passes over them, each pass with fresh dequantization and Hutchinson
 * noise (all drawn from one generator, in order), reported per image and as mean ± standard error.
 */
import type { ImageDataset } from '../data/types.js';
import { Generator } from '../random/generator.js';
import { throwIfAborted } from '../samplers/common.js';
import { Tensor } from '../tensor.js';
import { computeLikelihood, type LikelihoodOptions, type LikelihoodStep } from './likelihood.js';
import type { ScoreVjpFn } from './types.js';

/** One solve's outcome: batch `batch` of pass `pass`, images start … start + bitsPerDim.length − 1. */
export interface LikelihoodBatch {
  pass: number;
  batch: number;
  start: number;
  bitsPerDim: Float64Array;
  /** ODE evaluations and network calls of the solve. */
  nfe: number;
  networkCalls: number;
}

export interface DatasetLikelihoodOptions extends Omit<LikelihoodOptions, 'onStep'> {
  /** Images to evaluate: the first `count` of the dataset (default all). */
  count?: number;
  /** Passes over the images (score_sde `bpd_num_repeats`), default 1. */
  repeats?: number;
  /** Images per ODE solve (default 16). */
  batchSize?: number;
  /**
   * The noise source of one solve. Default: `generator` for every solve, in order (score_sde's one stream).
   * A generator per batch (seeded from pass and batch) makes each solve independent of the others, so a run
   * can resume, or be split, without changing a number.
   */
  generatorFor?: (pass: number, batch: number) => Generator;
  /** A batch already solved (e.g. by an interrupted run): its result is used instead of solving again. */
  done?: (pass: number, batch: number) => LikelihoodBatch | undefined;
  /** After each batch (solved or reused); awaited, so it can save the batch before the next starts. */
  onBatch?: (info: LikelihoodBatch) => void | Promise<void>;
  /** Inside a batch: the solver's progress. */
  onStep?: (info: LikelihoodStep & { pass: number; start: number }) => void;
}

export interface DatasetLikelihood {
  /** bits/dim of image i in pass r: `bitsPerDim[r][i]`. */
  bitsPerDim: Float64Array[];
  /** Per image, the mean over passes. */
  perImage: Float64Array;
  /** Mean of `perImage`. */
  mean: number;
  /** Standard error of that mean over the images (sd/√N; NaN for one image). */
  standardError: number;
  /** ODE evaluations over all solves, and the number of solves (batches × passes). */
  nfe: number;
  solves: number;
  /** Network calls over all solves. */
  networkCalls: number;
}

/** mean and standard error (sample sd / √n) of values. */
export function meanAndStandardError(values: ArrayLike<number>): { mean: number; standardError: number } {
  const n = values.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, standardError: n > 1 ? Math.sqrt(ss / (n - 1) / n) : Number.NaN };
}

export async function datasetLikelihood(
  model: ScoreVjpFn,
  dataset: ImageDataset,
  options: DatasetLikelihoodOptions,
): Promise<DatasetLikelihood> {
  const count = options.count ?? dataset.length;
  const repeats = options.repeats ?? 1;
  const batchSize = options.batchSize ?? 16;
  for (const [name, v, min, max] of [
    ['count', count, 1, dataset.length],
    ['repeats', repeats, 1, Number.MAX_SAFE_INTEGER],
    ['batchSize', batchSize, 1, Number.MAX_SAFE_INTEGER],
  ] as const) {
    if (!(Number.isInteger(v) && v >= min && v <= max))
      throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
  const generator = options.generator ?? new Generator();
  const { channels, height, width } = dataset;
  const rowSize = channels * height * width;
  const bitsPerDim = Array.from({ length: repeats }, () => new Float64Array(count));
  let nfe = 0;
  let solves = 0;
  let networkCalls = 0;
  for (let pass = 0; pass < repeats; pass++) {
    for (let batch = 0, start = 0; start < count; batch++, start += batchSize) {
      throwIfAborted(options.signal);
      const b = Math.min(batchSize, count - start);
      let result = options.done?.(pass, batch);
      if (result && (result.start !== start || result.bitsPerDim.length !== b))
        throw new RangeError(
          `done(${pass}, ${batch}) returned images ${result.start}+${result.bitsPerDim.length}`,
        );
      if (!result) {
        const data = new Float32Array(b * rowSize);
        for (let i = 0; i < b; i++) await dataset.read(start + i, data, i * rowSize);
        const r = await computeLikelihood(model, new Tensor('float32', data, [b, channels, height, width]), {
          ...options,
          generator: options.generatorFor?.(pass, batch) ?? generator,
          onStep: (s) => options.onStep?.({ ...s, pass, start }),
        });
        result = { pass, batch, start, bitsPerDim: r.bitsPerDim, nfe: r.nfe, networkCalls: r.networkCalls };
      }
      bitsPerDim[pass].set(result.bitsPerDim, start);
      nfe += result.nfe;
      networkCalls += result.networkCalls;
      solves++;
      await options.onBatch?.(result);
    }
  }
  const perImage = new Float64Array(count);
  for (const row of bitsPerDim) for (let i = 0; i < count; i++) perImage[i] += row[i] / repeats;
  return { bitsPerDim, perImage, ...meanAndStandardError(perImage), nfe, solves, networkCalls };
}
