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
  /**
   * Only batches `from` … `to` − 1 of every pass (e.g. one machine's share of a run): the result covers
   * their images only, and `likelihoodFromBatches` joins the batches of several such runs.
   */
  batchRange?: { from: number; to: number };
  /** A batch already solved (e.g. by an interrupted run): its result is used instead of solving again. */
  done?: (pass: number, batch: number) => LikelihoodBatch | undefined;
  /** After each batch (solved or reused); awaited, so it can save the batch before the next starts. */
  onBatch?: (info: LikelihoodBatch) => void | Promise<void>;
  /** Inside a batch: the solver's progress. */
  onStep?: (info: LikelihoodStep & { pass: number; start: number }) => void;
}

export interface DatasetLikelihood {
  /** The first image covered (0 unless `batchRange`): index i below is image start + i. */
  start: number;
  /** bits/dim of image start + i in pass r: `bitsPerDim[r][i]`. */
  bitsPerDim: Float64Array[];
  /** Per image, the mean over passes. */
  perImage: Float64Array;
  /** Mean of `perImage` (over the images covered). */
  mean: number;
  /** Standard error of that mean over the images (sd/√N; NaN for one image). */
  standardError: number;
  /** ODE evaluations over all solves, and the number of solves (batches × passes). */
  nfe: number;
  solves: number;
  /** Network calls over all solves. */
  networkCalls: number;
  /** Every solve's outcome, by pass then batch. */
  batches: LikelihoodBatch[];
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
  const solvedBatches = Math.ceil(count / batchSize);
  const { from, to } = options.batchRange ?? { from: 0, to: solvedBatches };
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= solvedBatches))
    throw new RangeError(`batchRange must lie in [0, ${solvedBatches}], got ${from} … ${to}`);
  const generator = options.generator ?? new Generator();
  const { channels, height, width } = dataset;
  const rowSize = channels * height * width;
  const results: LikelihoodBatch[] = [];
  for (let pass = 0; pass < repeats; pass++) {
    for (let batch = from; batch < to; batch++) {
      throwIfAborted(options.signal);
      const start = batch * batchSize;
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
      results.push(result);
      await options.onBatch?.(result);
    }
  }
  const start = Math.min(from * batchSize, count);
  return likelihoodFromBatches(results, repeats, start, Math.min(to * batchSize, count) - start);
}

/**
 * The dataset result of solved batches that cover images start … start + count − 1 exactly once in each of
 * `repeats` passes: what `datasetLikelihood` returns, e.g. from the batches of several `batchRange` runs.
 */
export function likelihoodFromBatches(
  batches: readonly LikelihoodBatch[],
  repeats: number,
  start: number,
  count: number,
): DatasetLikelihood {
  const bitsPerDim = Array.from({ length: repeats }, () => new Float64Array(count).fill(Number.NaN));
  const sorted = [...batches].sort((a, b) => a.pass - b.pass || a.batch - b.batch);
  let nfe = 0;
  let networkCalls = 0;
  for (const b of sorted) {
    const row = bitsPerDim[b.pass];
    const at = b.start - start;
    if (row === undefined || !Number.isInteger(at) || at < 0 || at + b.bitsPerDim.length > count)
      throw new RangeError(`batch ${b.batch} of pass ${b.pass} lies outside images ${start}+${count}`);
    if (row.subarray(at, at + b.bitsPerDim.length).some((v) => !Number.isNaN(v)))
      throw new RangeError(`batch ${b.batch} of pass ${b.pass} overlaps another batch`);
    row.set(b.bitsPerDim, at);
    nfe += b.nfe;
    networkCalls += b.networkCalls;
  }
  for (const [pass, row] of bitsPerDim.entries()) {
    const i = row.findIndex(Number.isNaN);
    if (i >= 0) throw new RangeError(`no batch gives image ${start + i} of pass ${pass}`);
  }
  const perImage = new Float64Array(count);
  for (const row of bitsPerDim) for (let i = 0; i < count; i++) perImage[i] += row[i] / repeats;
  return {
    start,
    bitsPerDim,
    perImage,
    ...meanAndStandardError(perImage),
    nfe,
    solves: sorted.length,
    networkCalls,
    batches: sorted,
  };
}
