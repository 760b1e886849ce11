/**
 * Making many images as a resumable, shardable run, for `sample`, `inpaint` and `colorize`.
 *
 * The seed scheme: image k (0 ≤ k < count) is sampled with its own Generator, seeded `seed + k`
 * (diffusers' list-of-generators semantics), in batches of `batchSize` consecutive images. So an image
 * depends on its seed and, for samplers whose batch rows interact (pc, ode: SAMPLERS[…].rowsIndependent),
 * on the images batched with it; never on sharding. `--shard i/n` makes whole batches, in n contiguous
 * blocks, so n machines write exactly the files one machine would.
 *
 * Each image is written (atomically) as soon as its batch ends; a file that exists is kept and not made
 * again unless `force` (resume), or refused (`existing: 'refuse'`, for commands whose inputs may change).
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  gridShape,
  loadImage,
  makeImageGrid,
  type PipelineImage,
  type PipelineStep,
  toGrayImage,
} from '../pipelines/index.js';
import { Generator } from '../random/index.js';
import { CliError, type CliIO, MAX_SEED, UsageError } from './args.js';
import { removeStaleTempFiles } from './preflight.js';
import type { SamplingProgress } from './sampling-progress.js';

/** A grid is written for runs of 2 to this many images (larger grids get unwieldy). */
export const MAX_GRID_IMAGES = 64;
/** Most images per run. */
export const MAX_COUNT = 1_000_000_000;

export interface Shard {
  index: number;
  of: number;
}

/** `--shard i/n`, 0 ≤ i < n. */
export function parseShard(v: unknown): Shard | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d{1,7})\s*\/\s*(\d{1,7})\s*$/.exec(String(v));
  const index = Number(m?.[1]);
  const of = Number(m?.[2]);
  if (m === null || !(of >= 1) || !(index < of))
    throw new UsageError(`--shard must be i/n with 0 ≤ i < n (e.g. 0/4), got "${v}"`);
  return { index, of };
}

/** Refuses seeds past 2^64 − 1 for the last image. */
export function checkSeedRange(seed: bigint, count: number): void {
  if (seed + BigInt(count - 1) > MAX_SEED)
    throw new UsageError(`--seed ${seed} + ${count} images passes the largest seed, 2^64 − 1`);
}

/** The batch indices from … to − 1 of `batches` that shard `shard` takes: n contiguous blocks. */
export function shardRange(batches: number, shard?: Shard): { from: number; to: number } {
  if (!shard) return { from: 0, to: batches };
  return {
    from: Math.floor((batches * shard.index) / shard.of),
    to: Math.floor((batches * (shard.index + 1)) / shard.of),
  };
}

/** The batches (image indices k) that shard `shard` makes: whole batches, in contiguous blocks. */
export function shardBatches(count: number, batchSize: number, shard?: Shard): number[][] {
  const { from, to } = shardRange(Math.ceil(count / batchSize), shard);
  const out: number[][] = [];
  for (let b = from; b < to; b++) {
    const first = b * batchSize;
    out.push(Array.from({ length: Math.min(batchSize, count - first) }, (_, j) => first + j));
  }
  return out;
}

export interface ImageRun {
  io: CliIO;
  outDir: string;
  /** File names: `<prefix>-<label>-s<seed + k>.png`. */
  prefix: string;
  label: string;
  seed: bigint;
  batches: number[][];
  /** Existing files: kept (an interrupted run resumes) or refused without `force`. */
  existing: 'resume' | 'refuse';
  force: boolean;
  /** Rows of a batch are independent: only the missing images of a batch need sampling. */
  rowsIndependent: boolean;
  /** All the run's image indices, when a grid of them is wanted. */
  grid?: number[];
  /** No closing line on stderr saying where the images went (-q). */
  quiet?: boolean;
  /** Samples one batch, one generator per row. */
  sample(generators: Generator[], onStep: (s: PipelineStep) => void): Promise<PipelineImage[]>;
}

export const imageFile = (run: Pick<ImageRun, 'prefix' | 'label' | 'seed'>, k: number): string =>
  `${run.prefix}-${run.label}-s${run.seed + BigInt(k)}.png`;

export const gridFile = (run: Pick<ImageRun, 'prefix' | 'label' | 'seed'>, count: number): string =>
  `${run.prefix}-${run.label}-s${run.seed}-s${run.seed + BigInt(count - 1)}-grid.png`;

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** A batch to sample: its rows, and the images among them to write. */
export interface BatchWork {
  rows: number[];
  write: Set<number>;
}

/**
 * Before the model loads: removes stale temp files of this run, then works out which batches must run.
 * Returns them and the number of images kept because their files exist.
 */
export async function planRun(run: ImageRun): Promise<{ work: BatchWork[]; kept: number }> {
  const targets = new Set(run.batches.flat().map((k) => imageFile(run, k)));
  if (run.grid) targets.add(gridFile(run, run.grid.length));
  await removeStaleTempFiles(
    run.outDir,
    targets,
    (t) => t.startsWith(`${run.prefix}-`) && t.endsWith('.png'),
  );
  const work: BatchWork[] = [];
  let kept = 0;
  for (const batch of run.batches) {
    const missing = new Set<number>();
    for (const k of batch) {
      const path = join(run.outDir, imageFile(run, k));
      if (run.force || !(await isFile(path))) missing.add(k);
      else if (run.existing === 'refuse')
        throw new CliError(
          `${path} exists; pass --force to overwrite it, or choose another --out or --prefix`,
        );
    }
    kept += batch.length - missing.size;
    if (missing.size === 0) continue;
    work.push({ rows: run.rowsIndependent ? batch.filter((k) => missing.has(k)) : batch, write: missing });
  }
  return { work, kept };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DOMException('interrupted', 'AbortError');
}

/**
 * Samples and writes each batch of `work` (each image as soon as its batch ends, printing its path), then
 * the grid. Ctrl-C stops between writes.
 */
export async function executeRun(
  run: ImageRun,
  work: BatchWork[],
  progress: SamplingProgress,
): Promise<void> {
  const { io } = run;
  const made = new Map<number, PipelineImage>();
  let written = 0;
  try {
    for (const { rows, write } of work) {
      throwIfAborted(io.signal);
      const generators = rows.map((k) => new Generator().manualSeed(run.seed + BigInt(k)));
      const images = await run.sample(generators, progress.onStep);
      progress.endBatch();
      for (const [j, k] of rows.entries()) {
        if (!write.has(k)) continue;
        throwIfAborted(io.signal);
        const path = join(run.outDir, imageFile(run, k));
        await images[j].save(path);
        written++;
        io.stdout.write(`${path}\n`);
        if (run.grid) made.set(k, images[j]);
      }
    }
  } catch (e) {
    if ((e as Error)?.name !== 'AbortError') throw e;
    throw new InterruptedRun(
      `${written} image(s) written to ${run.outDir}; run the same command again to make the rest (finished images are kept)`,
    );
  } finally {
    progress.close();
  }
  const where = `scoresde: ${written} image(s) written to ${run.outDir}`;
  if (run.grid === undefined || run.grid.length < 2 || run.grid.length > MAX_GRID_IMAGES) {
    if (written > 0 && !run.quiet) io.stderr.write(`${where}\n`);
    return;
  }
  throwIfAborted(io.signal);
  const images: PipelineImage[] = [];
  for (const k of run.grid)
    images.push(made.get(k) ?? (await loadImage(join(run.outDir, imageFile(run, k)))));
  // Images of an earlier run are read back as RGB; a gray model's grid stays gray.
  const gray = images.some((im) => im.channels === 1);
  const { rows, cols } = gridShape(images.length);
  const path = join(run.outDir, gridFile(run, run.grid.length));
  await makeImageGrid(gray ? images.map(toGrayImage) : images, rows, cols).save(path);
  io.stdout.write(`${path}\n`);
  if (!run.quiet) io.stderr.write(`${where}, with the grid ${basename(path)}\n`);
}

/** Ctrl-C during a run: an AbortError whose message says how to resume (printed by the dispatcher). */
export class InterruptedRun extends Error {
  override name = 'AbortError';
}
