/** `scoresde likelihood`: bits/dim of a dataset under a model, through the probability-flow ODE. */
import { stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { openImageDataset } from '../data/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  type DatasetLikelihood,
  type DatasetLikelihoodOptions,
  DIVERGENCE_METHODS,
  type DivergenceMethod,
  datasetLikelihood,
  type LikelihoodStep,
  unetScoreVjp,
} from '../likelihood/index.js';
import type { GaussianStatistics } from '../math/gaussian.js';
import type { ScoreSdeVePipeline } from '../pipelines/index.js';
import { ProgressBar } from '../progress.js';
import { Generator } from '../random/index.js';
import { checkVjpMemory } from '../training/memory-estimate.js';
import {
  CliError,
  type CliIO,
  intOption,
  MAX_SEED,
  MODEL_FLAGS,
  maxMemoryOption,
  parseCommandArgs,
  positiveNumberOption,
  requireString,
  seedOption,
  UsageError,
} from './args.js';
import { type FlagSection, flagHelp, flagOptions, type OptionSpec } from './flags.js';
import { parseShard, shardRange } from './image-run.js';
import { journalPath, LikelihoodJournal, weightsDigest } from './likelihood-journal.js';
import { type LikelihoodRun, mergeResults, resultText, summaryLine } from './likelihood-result.js';
import { loadPipelineFromArgs, modelArg } from './load-model.js';
import { prepareOutputDir } from './preflight.js';

/** Defaults of the flags, for the parser and the help alike. */
const DEFAULT_SPLIT = 'test';
const DEFAULT_DIVERGENCE: DivergenceMethod = 'hutchinson-rademacher';
const DEFAULT_BATCH_SIZE = 16;
/** score_sde's RK45 tolerances (rtol and atol). */
const DEFAULT_TOLERANCE = 1e-5;

const otherDivergences = DIVERGENCE_METHODS.filter((m) => m !== DEFAULT_DIVERGENCE && m !== 'exact');

/** The flags of `scoresde likelihood`, then the model's. */
const LIKELIHOOD_FLAGS: readonly FlagSection[] = [
  {
    flags: [
      {
        name: 'data',
        value: '<path>',
        help: 'a folder of images, an IDX images file, or a folder with MNIST-style IDX files (required)',
      },
      {
        name: 'split',
        value: '<name>',
        help: `IDX folders: train or test (default ${DEFAULT_SPLIT})`,
      },
      { name: 'count', value: '<n>', help: 'the first n images (default all)' },
      {
        name: 'repeats',
        value: '<r>',
        help: 'passes over the images, each with fresh dequantization and Hutchinson noise (default 1)',
      },
      {
        name: 'divergence',
        value: '<m>',
        help: `${DEFAULT_DIVERGENCE} (default), ${otherDivergences.join(', ')}, or exact (D network calls per step: small images)`,
      },
      {
        name: 'batch-size',
        value: '<n>',
        help: `images per ODE solve and network call (default ${DEFAULT_BATCH_SIZE})`,
      },
      {
        name: 'no-dequantize',
        help: 'evaluate the density at the 8-bit values k/255 instead of (k + u)/256',
      },
      {
        name: 'rtol',
        value: '<x>',
        also: [{ name: 'atol', value: '<x>' }],
        help: `RK45 tolerances (default ${DEFAULT_TOLERANCE.toExponential()})`,
      },
      { name: 'seed', value: '<n>', help: 'seed of the noise (default 0)' },
      {
        name: 'gaussian-above',
        value: '<σ>',
        help: "above this σ, the training data's Gaussian (the model's gaussian.safetensors) instead of the network, its flow to sigma_max in closed form: the likelihood of what the samplers' --gaussian-above samples (default: the network at every σ)",
      },
      {
        name: 'out',
        short: 'o',
        value: '<file>',
        help: 'also write the results as .csv or .json (and resume from <file>.partial.json if it exists)',
      },
      { name: 'force', help: 'start over instead of resuming' },
      {
        name: 'shard',
        value: '<i/n>',
        help: 'solve part i of n (whole batches, the seeds of one run) and write it to --out <file>.json',
      },
      {
        name: 'merge',
        rest: '<f.json>...',
        help: "join the --out JSON files of all shards of a run into that run's result (loads no model)",
      },
      {
        name: 'threads',
        value: '<n>',
        help: 'onnxruntime threads (default: all cores; 1 for several shards on one machine)',
      },
      {
        name: 'max-memory',
        value: '<size>',
        help: "memory the run may use, e.g. 16G (default: this machine's); a batch estimated larger is refused",
      },
      { name: 'quiet', short: 'q', help: 'no progress bar' },
    ],
  },
  MODEL_FLAGS,
];

export const LIKELIHOOD_HELP = `Usage: scoresde likelihood [--model <id|dir>] --data <path> [options]
       scoresde likelihood --merge <part.json>... [--out <file>]

Bits per dimension of images under the model: score_sde's likelihood.py (the
probability-flow ODE from t = eps to 1 with adaptive RK45, the divergence by
Hutchinson's estimator, the prior N(0, sigma_max^2 I), +8 bits for 8-bit data).
Prints "index<TAB>pass<TAB>bits/dim" per image and pass, then the mean and its
standard error over the images. Batch b of pass r (of B batches a pass) draws
its noise from torch.Generator().manual_seed(seed + r*B + b), so batches are
independent. With --out, F.partial.json keeps every finished batch while the
run goes, and the same command resumes an interrupted run where it stopped.

${flagHelp(LIKELIHOOD_FLAGS)}`;

/** What `likelihood`'s parser accepts: exactly the flags its help lists. */
export const LIKELIHOOD_OPTIONS: OptionSpec = flagOptions(LIKELIHOOD_FLAGS);

/**
 * Batch b of pass r, of B batches a pass, is seeded seed + r·B + b: consecutive seeds, because torch's
 * generator (and ours, bit for bit) seeds mt19937 from the low 32 bits only, so a stride of 2^32 would give
 * every pass the same noise. The name of the scheme is a journal setting: a journal of another scheme is refused.
 */
const SEED_SCHEME = 'seed + pass * batchesPerPass + batch';
export const batchSeed = (seed: bigint, pass: number, batch: number, batchesPerPass: number): bigint =>
  seed + BigInt(pass) * BigInt(batchesPerPass) + BigInt(batch);

/** Refuses --out unless it ends in .csv or .json and its folder is writable (before the model loads). */
async function checkOutFile(path: string | undefined): Promise<'csv' | 'json' | undefined> {
  if (path === undefined) return undefined;
  const ext = extname(path).toLowerCase();
  if (ext !== '.csv' && ext !== '.json')
    throw new UsageError(`--out must end in .csv or .json, got "${path}"`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new CliError(`--out ${path}: is a folder, not a file`);
  await prepareOutputDir(dirname(path), 'out');
  return ext === '.csv' ? 'csv' : 'json';
}

async function checkDataPath(path: string): Promise<void> {
  await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new CliError(
      `--data ${path}: ${e.code === 'ENOENT' ? 'no such file or folder' : (e.code ?? e.message)}`,
    );
  });
}

const fmt = (v: number) => v.toFixed(4);

/** `--merge a.json b.json …`: the shards' results joined into the run's, written to --out if given. */
async function runMerge(values: Record<string, unknown>, paths: string[], io: CliIO): Promise<number> {
  const extra = Object.keys(values).find((k) => !['merge', 'out', 'quiet'].includes(k));
  if (extra !== undefined)
    throw new UsageError(`--${extra} does not apply to --merge (the settings come from the files)`);
  if (paths.length === 0) throw new UsageError('--merge needs the JSON files of the shards');
  const outFormat = await checkOutFile(values.out as string | undefined);
  const run = await mergeResults(paths);
  io.stdout.write(summaryLine(run, `; merged from ${paths.length} files`));
  if (outFormat !== undefined) await writeFileAtomic(values.out as string, resultText(outFormat, run));
  return 0;
}

/** The bar's note on the batch being solved: ODE time reached (of 1) and network evaluations so far. */
export function inBatchProgress(s: Pick<LikelihoodStep, 't' | 'nfe'>): string {
  return `batch: t ${s.t.toFixed(3)} of 1, ${s.nfe} evals`;
}

/** The flags of a likelihood run, checked before the model loads. */
interface LikelihoodArgs {
  dataPath: string;
  split: 'train' | 'test';
  divergence: DivergenceMethod;
  repeats: number;
  batchSize: number;
  countArg?: number;
  rtol?: number;
  atol?: number;
  gaussianAbove?: number;
  seed: bigint;
  quiet: boolean;
  threads?: number;
  maxMemory?: number;
  shard: ReturnType<typeof parseShard>;
  outFormat?: 'csv' | 'json';
}

/** Reads and checks the flags; the data exists and the output file can be written (before the model loads). */
async function likelihoodArgs(values: Record<string, unknown>): Promise<LikelihoodArgs> {
  modelArg(values, 'likelihood');
  const dataPath = requireString(values, 'data', 'likelihood');
  const split = (values.split as string | undefined) ?? DEFAULT_SPLIT;
  if (split !== 'train' && split !== 'test')
    throw new UsageError(`--split must be train or test, got "${split}"`);
  const divergence = ((values.divergence as string | undefined) ?? DEFAULT_DIVERGENCE) as DivergenceMethod;
  if (!DIVERGENCE_METHODS.includes(divergence))
    throw new UsageError(`--divergence must be one of ${DIVERGENCE_METHODS.join(', ')}, got "${divergence}"`);
  const args: LikelihoodArgs = {
    dataPath,
    split,
    divergence,
    repeats: intOption(values, 'repeats', 1, 1, 1000),
    batchSize: intOption(values, 'batch-size', DEFAULT_BATCH_SIZE, 1, 4096),
    countArg: values.count === undefined ? undefined : intOption(values, 'count', 1, 1),
    rtol: positiveNumberOption(values, 'rtol'),
    atol: positiveNumberOption(values, 'atol'),
    gaussianAbove: positiveNumberOption(values, 'gaussian-above'),
    seed: seedOption(values),
    quiet: values.quiet === true,
    threads: values.threads === undefined ? undefined : intOption(values, 'threads', 1, 1, 1024),
    maxMemory: maxMemoryOption(values),
    shard: parseShard(values.shard),
  };
  if (args.shard && extname(String(values.out ?? '')).toLowerCase() !== '.json')
    throw new UsageError('--shard needs --out <file>.json: the part that --merge joins');
  await checkDataPath(dataPath);
  args.outFormat = await checkOutFile(values.out as string | undefined);
  return args;
}

/** The data set at the model's image size, how many of its images the run takes, and the batches per pass. */
async function openLikelihoodData(pipe: ScoreSdeVePipeline, args: LikelihoodArgs, io: CliIO) {
  const [height, width] = pipe.sampleSize;
  const dataset = await openImageDataset(args.dataPath, {
    channels: pipe.unet.config.in_channels,
    height,
    width,
    split: args.split,
    signal: io.signal,
    onWarning: (m) => io.stderr.write(`scoresde: ${m}\n`),
  }).catch((e: Error) => {
    if (e.name === 'AbortError') throw e;
    throw new CliError(`--data: ${e.message}`);
  });
  const count = Math.min(args.countArg ?? dataset.length, dataset.length);
  if (count < 1) throw new CliError(`--data ${args.dataPath}: no images`);
  if (args.countArg !== undefined && args.countArg > count)
    io.stderr.write(
      `scoresde: --count ${args.countArg}: --data ${args.dataPath} has ${count} images; using all ${count}\n`,
    );
  const { seed, repeats } = args;
  const batchesPerPass = Math.ceil(count / args.batchSize);
  if (batchSeed(seed, repeats - 1, batchesPerPass - 1, batchesPerPass) > MAX_SEED)
    throw new UsageError(
      `--seed ${seed} leaves no room for ${repeats} passes of ${batchesPerPass} batches (seeds must stay below 2^64)`,
    );
  return { dataset, count, batchesPerPass };
}

/**
 * What must be equal for batches to be interchangeable (resumed from the journal, or merged), and the rows of
 * the score + VJP graph: the batch, or for 'exact' B rows per basis vector, ~256 rows per call.
 */
function runSettings(pipe: ScoreSdeVePipeline, args: LikelihoodArgs, count: number, dequantize: boolean) {
  const [height, width] = pipe.sampleSize;
  const rows = Math.min(args.batchSize, count);
  const d = pipe.unet.config.in_channels * height * width;
  const graphRows =
    args.divergence === 'exact' ? rows * Math.min(d, Math.max(1, Math.floor(256 / rows))) : rows;
  const { sigma_min: sigmaMin, sigma_max: sigmaMax } = pipe.scheduler.config;
  const settings = {
    weights: weightsDigest(pipe.unet.stateDict()),
    data: resolve(args.dataPath),
    split: args.split,
    count,
    repeats: args.repeats,
    divergence: args.divergence,
    dequantize,
    batchSize: args.batchSize,
    rtol: args.rtol ?? DEFAULT_TOLERANCE,
    atol: args.atol ?? DEFAULT_TOLERANCE,
    seed: args.seed.toString(),
    seeds: SEED_SCHEME,
    sigmaMin,
    sigmaMax,
    // Only when set, so the journals of runs without it still resume.
    ...(args.gaussianAbove !== undefined ? { gaussianAbove: args.gaussianAbove } : {}),
  };
  return { settings, graphRows };
}

/** Tells how much of this shard the journal already holds, when it holds any. */
function resumeNote(
  journal: LikelihoodJournal | undefined,
  range: BatchRange,
  repeats: number,
  io: CliIO,
): void {
  if (!journal) return;
  // Only this shard's batches count (a shard may start from the journal of the whole run).
  let journaled = 0;
  for (let r = 0; r < repeats; r++)
    for (let b = range.from; b < range.to; b++) if (journal.get(r, b)) journaled++;
  if (journaled > 0)
    io.stderr.write(
      `scoresde: resuming from ${journal.path}: ${journaled} of ${(range.to - range.from) * repeats} batches done\n`,
    );
}

type BatchRange = ReturnType<typeof shardRange>;

/**
 * The datasetLikelihood run with the progress bar and one line per image; batches the journal holds are
 * taken from it (`reused` counts their images), finished ones are added to it.
 */
async function solveWithProgress(
  solve: (
    options: Pick<DatasetLikelihoodOptions, 'done' | 'onBatch' | 'onStep' | 'signal'>,
  ) => Promise<DatasetLikelihood>,
  total: number,
  journal: LikelihoodJournal | undefined,
  quiet: boolean,
  io: CliIO,
): Promise<{ result: DatasetLikelihood; reused: number }> {
  let reused = 0;
  const bar = new ProgressBar({ total, desc: 'likelihood', unit: 'img', disable: quiet, stream: io.stderr });
  // On one terminal the lines go above the live bar (stderr); piped, stdout carries just the data.
  const lineSink = io.stdout.isTTY && io.stderr.isTTY && !quiet ? io.stderr : io.stdout;
  // A batch is one solve of minutes: the bar shows how far its ODE has got, and its clock keeps ticking.
  const ticker = setInterval(() => bar.refresh(), 1000);
  ticker.unref();
  try {
    const result = await solve({
      done: (pass, batch) => {
        const b = journal?.get(pass, batch);
        reused += b?.bitsPerDim.length ?? 0;
        return b;
      },
      signal: io.signal,
      onStep: (s) => {
        bar.postfix = inBatchProgress(s);
        bar.refresh();
      },
      onBatch: async (b) => {
        bar.postfix = undefined;
        await journal?.add(b);
        const lines = Array.from(b.bitsPerDim, (v, i) => `${b.start + i}\t${b.pass}\t${fmt(v)}`).join('\n');
        ProgressBar.write(lines, lineSink);
        bar.update(b.bitsPerDim.length);
      },
    });
    return { result, reused };
  } catch (e) {
    if (journal && (e as Error).name === 'AbortError')
      io.stderr.write(
        `scoresde: interrupted; ${journal.size} finished batch(es) are in ${journal.path}, and the same command resumes\n`,
      );
    throw e;
  } finally {
    clearInterval(ticker);
    bar.close();
  }
}

/** The journal of --out (none without), this shard's batches and their images; says what is done already. */
async function shardPlan(
  values: Record<string, unknown>,
  args: LikelihoodArgs,
  settings: ReturnType<typeof runSettings>['settings'],
  batchesPerPass: number,
  io: CliIO,
) {
  const { batchSize, count } = settings;
  const journal =
    args.outFormat === undefined
      ? undefined
      : await LikelihoodJournal.open(journalPath(values.out as string), settings, values.force === true);
  const batchRange = shardRange(batchesPerPass, args.shard);
  const images = Math.min(batchRange.to * batchSize, count) - Math.min(batchRange.from * batchSize, count);
  resumeNote(journal, batchRange, args.repeats, io);
  return { journal, batchRange, images };
}

/** datasetLikelihood's options for this run: the flags, the model's σ range, and each batch's seed. */
function solveOptions(
  args: LikelihoodArgs,
  gaussian: GaussianStatistics | undefined,
  settings: ReturnType<typeof runSettings>['settings'],
  graphRows: number,
  batchesPerPass: number,
): DatasetLikelihoodOptions {
  const { count, sigmaMin, sigmaMax, dequantize } = settings;
  const { repeats, batchSize, divergence, rtol, atol, seed } = args;
  return {
    count,
    repeats,
    batchSize,
    divergence,
    sigmaMin,
    sigmaMax,
    rtol,
    atol,
    dequantize,
    exactRowsPerCall: graphRows,
    ...(args.gaussianAbove !== undefined ? { gaussianAbove: args.gaussianAbove, gaussian } : {}),
    generatorFor: (pass, batch) => new Generator().manualSeed(batchSeed(seed, pass, batch, batchesPerPass)),
  };
}

/** The score + VJP graph of `rows` rows, refused first when it would not fit in --max-memory. */
async function scoreVjpFor(pipe: ScoreSdeVePipeline, rows: number, args: LikelihoodArgs) {
  try {
    checkVjpMemory(pipe.unet.config, pipe.sampleSize, rows, args.maxMemory);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  return unetScoreVjp(pipe.unet, { batchSize: rows, intraOpThreads: args.threads });
}

/** --out written; the journal goes, as the result holds all it held. */
async function writeResult(
  path: string,
  format: 'csv' | 'json',
  run: LikelihoodRun,
  journal: LikelihoodJournal | undefined,
): Promise<void> {
  await writeFileAtomic(path, resultText(format, run));
  await journal?.remove();
}

export async function runLikelihood(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('likelihood', argv, LIKELIHOOD_OPTIONS, true);
  if (values.help) {
    io.stdout.write(`${LIKELIHOOD_HELP}\n`);
    return 0;
  }
  if (values.merge === true) return runMerge(values, positionals, io);
  if (positionals.length > 0)
    throw new UsageError(`likelihood: unexpected argument "${positionals[0]}" (files go after --merge)`);
  const args = await likelihoodArgs(values);
  const { repeats, outFormat } = args;

  const { pipe } = await loadPipelineFromArgs('likelihood', values, io);
  if (args.gaussianAbove !== undefined && !pipe.gaussian) {
    await pipe.release();
    throw new CliError(
      `--gaussian-above: the model ${modelArg(values, 'likelihood')} has no gaussian.safetensors (the training data's Gaussian)`,
    );
  }
  let fn: Awaited<ReturnType<typeof unetScoreVjp>> | undefined;
  try {
    const { dataset, count, batchesPerPass } = await openLikelihoodData(pipe, args, io);
    const { settings, graphRows } = runSettings(pipe, args, count, values['no-dequantize'] !== true);
    const { journal, batchRange, images } = await shardPlan(values, args, settings, batchesPerPass, io);
    fn = await scoreVjpFor(pipe, graphRows, args);
    const scoreFn = fn;
    const t0 = performance.now();
    const { result, reused } = await solveWithProgress(
      (progress) =>
        datasetLikelihood(scoreFn, dataset, {
          ...solveOptions(args, pipe.gaussian, settings, graphRows, batchesPerPass),
          batchRange,
          ...progress,
        }),
      images * repeats,
      journal,
      args.quiet,
      io,
    );
    const run: LikelihoodRun = {
      model: modelArg(values, 'likelihood'),
      data: args.dataPath,
      settings,
      shard: args.shard ?? null,
      seconds: (performance.now() - t0) / 1000,
      result,
    };
    // The rate of this process's own solves: batches taken from the journal cost nothing.
    io.stdout.write(summaryLine(run, `, ${((images * repeats - reused) / run.seconds).toFixed(2)} images/s`));
    if (outFormat !== undefined) await writeResult(values.out as string, outFormat, run, journal);
    return 0;
  } finally {
    await fn?.release();
    await pipe.release();
  }
}
