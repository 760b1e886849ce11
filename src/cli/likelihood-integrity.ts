/**
 * What makes a likelihood journal or result file trustworthy when read back: a SHA-256 of its settings and
 * batches (an edited or damaged file is refused, not averaged in), and each batch checked against the run it
 * claims to belong to (its pass, index, first image and number of values).
 */
import { createHash } from 'node:crypto';
import type { LikelihoodBatch } from '../likelihood/index.js';
import type { BatchJson, JournalSettings } from './likelihood-journal.js';

/**
 * Bits/dim beyond ±10⁴ would be a density of 2^(∓10⁴) per dimension: no score model gives one (real models
 * give 1–10), so such a stored value is corruption.
 */
export const MAX_ABS_BITS_PER_DIM = 1e4;

/**
 * Dequantized 8-bit data: E_u[bits/dim] bounds the discrete negative log-likelihood from above (Jensen), which
 * is ≥ 0; one image's Hutchinson estimate scatters around it by hundredths (BENCHMARKS.md), never by a bit a
 * dimension. A stored value below this is an edit, even one resealed with a recomputed SHA-256.
 */
export const MIN_DEQUANTIZED_BITS_PER_DIM = -1;

/** The SHA-256 (hex) that a journal or result file stores of its settings and batches. */
export function contentDigest(settings: JournalSettings, batches: readonly BatchJson[]): string {
  return createHash('sha256')
    .update(JSON.stringify([settings, batches]))
    .digest('hex');
}

/** Why batch `b` is not one of the run `settings` describe, or undefined when it is. */
export function batchProblem(b: LikelihoodBatch, settings: JournalSettings): string | undefined {
  const { count, batchSize, repeats } = settings as { count: number; batchSize: number; repeats: number };
  const perPass = Math.ceil(count / batchSize);
  const start = b.batch * batchSize;
  if (b.pass >= repeats || b.batch >= perPass || b.start !== start) return "is not one of this run's";
  if (b.bitsPerDim.length !== Math.min(batchSize, count - start)) return 'is damaged';
  const lowest = Math.min(...b.bitsPerDim);
  if (settings.dequantize === true && lowest < MIN_DEQUANTIZED_BITS_PER_DIM)
    return `holds bits/dim ${lowest}, below the ${MIN_DEQUANTIZED_BITS_PER_DIM} that dequantized 8-bit data allow`;
  return undefined;
}
