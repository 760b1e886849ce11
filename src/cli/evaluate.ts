/** `scoresde evaluate`: sample a model (or read a folder of samples) and judge the images against Fashion-MNIST. */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { ImageDataset } from '../data/types.js';
import { formatPerSigmaReport, type PerSigmaReport } from '../diagnostics/index.js';
import { ConfigError, FileFormatError } from '../errors.js';
import {
  CLASSIFIER_CONFIG_NAME,
  CLASSIFIER_WEIGHTS_NAME,
  defaultClassifierDir,
  FashionMnistClassifier,
} from '../evaluation/classifier/model.js';
import { type EvaluationReport, type EvaluationStage, Evaluator } from '../evaluation/evaluator.js';
import { FASHION_MNIST_DIR, openFashionMnist } from '../evaluation/fashion-mnist.js';
import { generateSamples } from '../evaluation/generate.js';
import { formatReport } from '../evaluation/report.js';
import { readSampleFolder } from '../evaluation/sample-folder.js';
import { writeFileAtomic } from '../io/atomic.js';
import { BASELINE_BYTES, checkMemory, type MemoryBudget, memoryBudget } from '../memory-budget.js';
import { ProgressBar } from '../progress.js';
import { SAMPLER_NAMES, SAMPLERS, type SamplerName } from '../samplers/index.js';
import {
  CliError,
  type CliIO,
  intOption,
  MODEL_FLAGS,
  maxMemoryOption,
  parseCommandArgs,
  seedOption,
  UsageError,
} from './args.js';
import { evaluateDenoiser } from './evaluate-denoiser.js';
import { type FlagSection, flagHelp, flagOptions, type OptionSpec } from './flags.js';
import {
  checkBatchFits,
  chooseSampling,
  configurePipeline,
  defaultStepsText,
  MAX_BATCH_SIZE,
  samplerFlagList,
} from './generate-common.js';
import { MAX_COUNT } from './image-run.js';
import { loadPipelineFromArgs, modelArg } from './load-model.js';
import { checkInputFile, prepareOutputDir } from './preflight.js';
import { SamplingProgress } from './sampling-progress.js';

/** Defaults of the flags, for the parser and the help alike. */
const DEFAULT_COUNT = 1000;
const DEFAULT_BATCH_SIZE = 64;
const DEFAULT_DENOISER_COUNT = 1000;

/** The flags of `scoresde evaluate`, by help section. */
const EVALUATE_FLAGS: readonly FlagSection[] = [
  {
    title: 'Evaluation options:',
    flags: [
      {
        name: 'count',
        value: '<n>',
        help: `images to sample (default ${DEFAULT_COUNT}), or at most this many to read with --samples`,
      },
      {
        name: 'samples',
        value: '<dir>',
        help: 'evaluate the PNGs in this folder instead of sampling (grid files skipped)',
      },
      { name: 'data', value: '<dir>', help: `Fashion-MNIST IDX files\n(default ${FASHION_MNIST_DIR})` },
      { name: 'classifier', value: '<dir>', help: 'feature classifier (default: the one shipped)' },
      {
        name: 'reference-count',
        value: '<n>',
        help: 'test images in the FD reference (default: all)',
      },
      {
        name: 'denoiser-count',
        value: '<n>',
        help: `test images in the per-σ denoiser table (default ${DEFAULT_DENOISER_COUNT}; 0: none): the model's denoiser x + σ²·score against the mean image and the Gaussian denoiser of the training data, at each σ (with --model only)`,
      },
      { name: 'out', short: 'o', value: '<file>', help: 'also write the report as JSON' },
      {
        name: 'max-memory',
        value: '<size>',
        help: "memory the images may use, e.g. 16G (default: this machine's); more is refused before sampling",
      },
      { name: 'quiet', short: 'q', help: 'no progress bars' },
    ],
  },
  {
    title: 'Sampling options:',
    flags: [
      {
        name: 'sampler',
        value: '<name>',
        help: `${SAMPLER_NAMES.join(' | ')} instead of diffusers' loop`,
      },
      ...samplerFlagList(SAMPLER_NAMES, (o) => (o === 'steps' ? defaultStepsText() : '')),
      {
        name: 'batch-size',
        value: '<n>',
        help: `images per network batch (default ${DEFAULT_BATCH_SIZE})`,
      },
      {
        name: 'seed',
        value: '<n>',
        help: 'seed of image 0 (default 0); image k uses\ntorch.Generator().manual_seed(seed + k)',
      },
    ],
  },
  MODEL_FLAGS,
];

export const EVALUATE_HELP = `Usage: scoresde evaluate [--model <id|dir>] [options]
       scoresde evaluate --samples <dir> [options]

Judges generated images against Fashion-MNIST:
  - the Fréchet distance (FD) to the test set in the features of a Fashion-MNIST
    classifier, beside its floor: as many real training images against the
    same test set;
  - the classifier's label histogram against uniform;
  - each image's nearest training image (L2 in pixels) against the same for
    test images: the memorisation check.
Images are centre-cropped to 28×28 and quantised to 8 bits, as saved PNGs are.
Image k is sampled as "scoresde sample" makes it (seed + k, batches of
--batch-size), so a run sharded over many machines with
  scoresde sample --count N --shard i/n --out DIR
is evaluated afterwards with --samples DIR.

${flagHelp(EVALUATE_FLAGS)}`;

/** What `evaluate`'s parser accepts: exactly the flags its help lists. */
export const EVALUATE_OPTIONS: OptionSpec = flagOptions(EVALUATE_FLAGS);

/**
 * --count images of C×H×W, held as float32 with a cropped, quantised copy: refused before anything is read
 * (with the smallest images the evaluator takes, 1×28×28), and again with the model's size before sampling.
 */
function checkSamplesFit(count: number, [c, h, w]: readonly number[], budget: MemoryBudget): void {
  const bytes = 4 * count * c * h * w;
  try {
    checkMemory(
      `evaluating --count ${count}`,
      [[`${count} images and their copies`, 2 * bytes]],
      budget,
      'lower --count',
    );
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

async function checkFolder(path: string, flag: string): Promise<string> {
  const dir = resolve(path);
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory()) throw new CliError(`--${flag} ${path}: not a folder`);
  return dir;
}

/** Bad files (data, classifier, samples) are the user's to fix: one line, no stack hint. */
async function userInput<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof FileFormatError || e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
}

/** One progress bar per evaluation stage, drawn on stderr. */
function stageBars(io: CliIO, quiet: boolean) {
  let bar: ProgressBar | undefined;
  let current: string | undefined;
  const close = () => {
    bar?.close();
    bar = undefined;
    current = undefined;
  };
  return {
    onProgress: (stage: EvaluationStage, done: number, total: number) => {
      if (quiet) return;
      if (stage !== current) {
        close();
        const unit = stage === 'nearest neighbours' ? 'row' : 'img';
        bar = new ProgressBar({ desc: stage, total, unit, stream: io.stderr });
        current = stage;
      }
      bar!.total = total;
      bar!.update(done - bar!.n);
    },
    close,
  };
}

/** Before any long work: every input readable, the report's folder writable. */
async function checkPaths(values: Record<string, unknown>, samplesFlag: string | undefined) {
  const dataDir = await checkFolder((values.data as string | undefined) ?? FASHION_MNIST_DIR, 'data');
  const samplesDir = samplesFlag === undefined ? undefined : await checkFolder(samplesFlag, 'samples');
  const classifierDir = resolve((values.classifier as string | undefined) ?? defaultClassifierDir());
  await checkInputFile(join(classifierDir, CLASSIFIER_CONFIG_NAME), 'classifier');
  await checkInputFile(join(classifierDir, CLASSIFIER_WEIGHTS_NAME), 'classifier');
  const outValue = values.out as string | undefined;
  const reportPath =
    outValue === undefined
      ? undefined
      : join(await prepareOutputDir(dirname(outValue), 'out'), basename(outValue));
  return { dataDir, samplesDir, classifierDir, reportPath };
}

/** How `evaluate` samples when it is given a model: the flags, read once. */
type Sampling = ReturnType<typeof chooseSampling> & {
  count: number;
  batchSize: number;
  seed: bigint;
  quiet: boolean;
  /** Test images in the per-σ denoiser table (0: none). */
  denoiserCount: number;
  /** The memory the images may take (--max-memory). */
  budget: MemoryBudget;
};

/**
 * `count` images from the model the flags name, with a sampling progress bar, then the model's per-σ denoiser
 * table; the pipeline is released after.
 */
async function sampleImages(
  values: Record<string, unknown>,
  s: Sampling,
  data: { train: ImageDataset; test: ImageDataset },
  io: CliIO,
) {
  const { count, batchSize, steps, flags } = s;
  const loaded = await loadPipelineFromArgs('evaluate', values, io);
  try {
    const pipe = configurePipeline(loaded.pipe, flags.scheduler);
    checkBatchFits(pipe, Math.min(batchSize, count));
    checkSamplesFit(count, [pipe.unet.config.in_channels, ...pipe.sampleSize], s.budget);
    const c = pipe.scheduler.config;
    const progress = new SamplingProgress({
      stream: io.stderr,
      disable: s.quiet,
      batches: Math.ceil(count / batchSize),
      steps,
      ode:
        s.kind === 'ode'
          ? { sigmaMin: c.sigma_min, sigmaMax: c.sigma_max, eps: SAMPLERS.ode.defaults.eps }
          : undefined,
    });
    let samples: Awaited<ReturnType<typeof generateSamples>>;
    try {
      samples = await generateSamples(pipe, {
        count,
        batchSize,
        seed: s.seed,
        sampler: s.sampler,
        numInferenceSteps: steps,
        samplerOptions: flags.samplerOptions,
        signal: io.signal,
        onStep: progress.onStep,
        onBatch: () => progress.endBatch(),
      });
    } finally {
      progress.close();
    }
    const denoiser =
      s.denoiserCount > 0
        ? await evaluateDenoiser(pipe, data, {
            count: s.denoiserCount,
            batchSize: s.batchSize,
            stream: io.stderr,
            quiet: s.quiet,
            signal: io.signal,
          })
        : undefined;
    return { ...samples, denoiser };
  } finally {
    await loaded.pipe.release();
  }
}

/** The report as JSON: the numbers and what produced them (model or folder, sampler, seed). */
function reportJson(
  report: EvaluationReport,
  values: Record<string, unknown>,
  s: Sampling,
  samplesDir: string | undefined,
  nfe: number | undefined,
  denoiser: PerSigmaReport | string | undefined,
): string {
  const json = {
    ...report,
    model: samplesDir === undefined ? modelArg(values, 'evaluate') : null,
    samples: samplesDir ?? null,
    sampler: s.sampler ?? null,
    steps: s.steps ?? null,
    networkCallsPerImage: nfe ?? null,
    denoiser: typeof denoiser === 'object' ? denoiser : null,
    seed: s.seed.toString(),
    batchSize: s.batchSize,
    samplerOptions: s.flags.samplerOptions,
    scheduler: s.flags.scheduler,
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Up to `count` images of the --samples folder, within the memory budget. */
function readSamples(dir: string, count: number, budget: MemoryBudget, io: CliIO) {
  return userInput(
    readSampleFolder(dir, count, {
      onWarning: (m) => io.stderr.write(`scoresde: ${m}\n`),
      // the images, then their cropped and quantised copies
      maxBytes: (budget.bytes - BASELINE_BYTES) / 2,
    }),
  );
}

/** The sampling flags (read even with --samples, which refuses --model), checked before anything is read. */
function samplingArgs(values: Record<string, unknown>, samplesFlag: string | undefined): Sampling {
  const chosen = chooseSampling(values, values.sampler as SamplerName | undefined);
  if (samplesFlag !== undefined && values.model !== undefined)
    throw new UsageError('evaluate: give either --model or --samples, not both');
  return {
    ...chosen,
    count: intOption(values, 'count', samplesFlag === undefined ? DEFAULT_COUNT : MAX_COUNT, 2, MAX_COUNT),
    batchSize: intOption(values, 'batch-size', DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE),
    seed: seedOption(values),
    quiet: values.quiet === true,
    denoiserCount:
      samplesFlag === undefined ? intOption(values, 'denoiser-count', DEFAULT_DENOISER_COUNT, 0, 10_000) : 0,
    budget: memoryBudget(maxMemoryOption(values)),
  };
}

/** The report on stdout, then the network calls per image and the per-σ denoiser table of sampled images. */
function printReport(
  report: EvaluationReport,
  generated: { nfe?: number; denoiser?: PerSigmaReport | string } | undefined,
  samplesDir: string | undefined,
  io: CliIO,
): void {
  const what = samplesDir === undefined ? 'samples' : 'images';
  io.stdout.write(`${formatReport(report, what)}\n`);
  const nfe = generated?.nfe;
  if (nfe !== undefined) io.stdout.write(`\n${nfe} network calls per image\n`);
  const denoiser = generated?.denoiser;
  if (typeof denoiser === 'string') io.stdout.write(`\n${denoiser}\n`);
  else if (denoiser)
    io.stdout.write(`\nPer-σ denoiser, ${denoiser.count} test images:\n${formatPerSigmaReport(denoiser)}\n`);
}

export async function runEvaluate(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('evaluate', argv, EVALUATE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${EVALUATE_HELP}\n`);
    return 0;
  }
  const samplesFlag = values.samples as string | undefined;
  const sampling = samplingArgs(values, samplesFlag);
  const { count, quiet, budget } = sampling;
  if (samplesFlag === undefined) checkSamplesFit(count, [1, 28, 28], budget); // --samples: bounded by the files
  const referenceCount =
    values['reference-count'] === undefined ? undefined : intOption(values, 'reference-count', 0, 2);

  const { dataDir, samplesDir, classifierDir, reportPath } = await checkPaths(values, samplesFlag);

  // A folder of samples is read first: it is quick, and a bad one should fail before anything else.
  const folder = samplesDir === undefined ? undefined : await readSamples(samplesDir, count, budget, io);
  const bars = stageBars(io, quiet);
  const classifier = await userInput(FashionMnistClassifier.fromPretrained(classifierDir));
  try {
    const { train, test } = await userInput(openFashionMnist(dataDir));
    // The reference first, so that a broken data folder fails before a long sampling run.
    const evaluator = await Evaluator.create({
      classifier,
      train,
      test,
      referenceCount,
      onProgress: bars.onProgress,
      signal: io.signal,
    });
    bars.close();
    const generated =
      folder === undefined ? await sampleImages(values, sampling, { train, test }, io) : undefined;
    const images = folder ?? generated!;
    let report: EvaluationReport;
    try {
      report = await evaluator.report(images.data, images.dims);
    } catch (e) {
      if (e instanceof RangeError) throw new CliError(`evaluate: ${e.message}`);
      throw e;
    }
    bars.close();
    await printReport(report, generated, samplesDir, io);
    if (reportPath) {
      const json = reportJson(report, values, sampling, samplesDir, generated?.nfe, generated?.denoiser);
      await writeFileAtomic(reportPath, json);
      io.stdout.write(`${reportPath}\n`);
    }
    return 0;
  } finally {
    bars.close();
    await classifier.release();
  }
}
