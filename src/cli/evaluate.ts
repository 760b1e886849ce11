/** `scoresde evaluate`: sample a model (or read a folder of samples) and judge the images against Fashion-MNIST. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  CLASSIFIER_CONFIG_NAME,
  CLASSIFIER_WEIGHTS_NAME,
  defaultClassifierDir,
  FashionMnistClassifier,
} from '../evaluation/classifier/model.js';
import { type EvaluationStage, Evaluator } from '../evaluation/evaluator.js';
import { FASHION_MNIST_DIR, openFashionMnist } from '../evaluation/fashion-mnist.js';
import { generateSamples } from '../evaluation/generate.js';
import { formatReport } from '../evaluation/report.js';
import { readSampleFolder } from '../evaluation/sample-folder.js';
import { writeFileAtomic } from '../io/atomic.js';
import { ProgressBar } from '../progress.js';
import { SAMPLER_NAMES, type SamplerName } from '../samplers/index.js';
import {
  type CliIO,
  intOption,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  parseCommandArgs,
  UsageError,
} from './args.js';
import {
  configurePipeline,
  parseSamplerFlags,
  parseSamplingArgs,
  SAMPLER_TUNING_HELP,
  SAMPLER_TUNING_OPTIONS,
  SAMPLING_OPTIONS,
} from './generate-common.js';
import { CliError, loadPipelineFromArgs } from './load-model.js';

export const EVALUATE_HELP = `Usage: scoresde evaluate --model <id|dir> [options]
       scoresde evaluate --samples <dir> [options]

Judges generated images against Fashion-MNIST: the Fréchet distance (FD) to the test set in the feature
space of a Fashion-MNIST classifier, beside its floor (as many real training images against the same test
set); the classifier's label histogram against uniform; and each image's nearest training image (L2 in
pixels) against the same for test images (the memorisation check). Samples are cropped to 28×28 and
quantised to 8 bits, as saved PNGs are.

Evaluation options:
      --count <n>          images to generate (default 1000), or the most to read with --samples
      --samples <dir>      evaluate the PNGs in this folder instead of sampling (grid files skipped)
      --data <dir>         Fashion-MNIST IDX files (default ${FASHION_MNIST_DIR})
      --classifier <dir>   feature classifier folder (default: the one shipped with scoresde)
      --reference-count <n>  test images in the FD reference (default: all)
  -o, --out <file>         also write the report as JSON

Sampling options:
      --sampler <name>     ${SAMPLER_NAMES.join(' | ')} (default: diffusers' loop)
      --steps <n>          predictor steps (default: diffusers' 2000, or the sampler's own)
      --batch-size <n>     images per network call (default 64)
      --seed <n>           image i is drawn from torch.Generator().manual_seed(seed + i) (default 0)
      --snr <x>, --sigma-max <x>, --corrector-steps <n>, --predictor <name>, --corrector <name>
                           as in "scoresde sample"
${SAMPLER_TUNING_HELP}
  -q, --quiet              no progress bars
${MODEL_OPTIONS_HELP.replace(' (required)', ' (required unless --samples)')}`;

const { prefix: _prefix, ...SAMPLING_FLAGS } = SAMPLING_OPTIONS;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...SAMPLING_FLAGS,
  ...SAMPLER_TUNING_OPTIONS,
  sampler: { type: 'string' },
  count: { type: 'string' },
  samples: { type: 'string' },
  data: { type: 'string' },
  classifier: { type: 'string' },
  'reference-count': { type: 'string' },
} as const;

/** Fails before any long work when an input is missing or the report cannot be written. */
async function preflight(paths: { readable: string[]; folders: string[]; report?: string }): Promise<void> {
  for (const p of paths.readable) {
    try {
      await access(p, constants.R_OK);
    } catch {
      throw new CliError(`${p}: not found or not readable`);
    }
  }
  for (const p of paths.folders) {
    const s = await stat(p).catch(() => undefined);
    if (!s?.isDirectory()) throw new CliError(`${p}: not a folder`);
  }
  if (paths.report) {
    const dir = dirname(paths.report);
    try {
      await access(dir, constants.W_OK);
    } catch {
      throw new CliError(`--out: cannot write into ${dir}`);
    }
  }
}

/** One progress bar per evaluation stage, drawn on stderr. */
function stageBars(io: CliIO, quiet: boolean) {
  let bar: ProgressBar | undefined;
  let current: string | undefined;
  const show = (stage: string, done: number, total: number, unit = 'img') => {
    if (quiet) return;
    if (stage !== current) {
      bar?.close();
      bar = new ProgressBar({ desc: stage, total, unit, stream: io.stderr });
      current = stage;
    }
    bar!.total = total;
    bar!.update(done - bar!.n);
  };
  return {
    show,
    onProgress: (stage: EvaluationStage, done: number, total: number) =>
      show(stage, done, total, stage === 'nearest neighbours' ? 'row' : 'img'),
    close: () => {
      bar?.close();
      bar = undefined;
      current = undefined;
    },
  };
}

export async function runEvaluate(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('evaluate', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${EVALUATE_HELP}\n`);
    return 0;
  }
  const sampler = values.sampler as string | undefined;
  if (sampler !== undefined && !(SAMPLER_NAMES as readonly string[]).includes(sampler))
    throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got "${sampler}"`);
  const samplesDir = values.samples as string | undefined;
  if (samplesDir === undefined && values.model === undefined)
    throw new UsageError('evaluate: give --model to sample, or --samples <dir> to read images');
  if (samplesDir !== undefined && values.model !== undefined)
    throw new UsageError('evaluate: give either --model or --samples, not both');
  const count = intOption(values, 'count', samplesDir === undefined ? 1000 : Number.MAX_SAFE_INTEGER, 2);
  const referenceCount =
    values['reference-count'] === undefined ? undefined : intOption(values, 'reference-count', 0, 2);
  const args = parseSamplingArgs(values, 'evaluate');
  const samplerOptions = parseSamplerFlags(values, sampler);
  const dataDir = resolve((values.data as string | undefined) ?? FASHION_MNIST_DIR);
  const classifierDir = resolve((values.classifier as string | undefined) ?? defaultClassifierDir());
  const reportValue = values.out as string | undefined;
  const reportPath = reportValue === undefined ? undefined : resolve(reportValue);

  await preflight({
    readable: [join(classifierDir, CLASSIFIER_CONFIG_NAME), join(classifierDir, CLASSIFIER_WEIGHTS_NAME)],
    folders: samplesDir === undefined ? [dataDir] : [dataDir, resolve(samplesDir)],
    report: reportPath,
  });

  const bars = stageBars(io, args.quiet);
  const classifier = await FashionMnistClassifier.fromPretrained(classifierDir);
  try {
    const { train, test } = await openFashionMnist(dataDir);
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

    let images: { data: Float32Array; dims: readonly number[] };
    let what = 'samples';
    if (samplesDir !== undefined) {
      images = await readSampleFolder(resolve(samplesDir), count);
      what = 'images';
    } else {
      const loaded = await loadPipelineFromArgs('evaluate', values, io);
      try {
        const pipe = configurePipeline(loaded.pipe, { ...args, quiet: true }, io);
        const out = await generateSamples(pipe, {
          count,
          batchSize: args.batchSize ?? 64,
          seed: args.seed,
          sampler: sampler as SamplerName | undefined,
          numInferenceSteps: args.steps,
          samplerOptions,
          signal: io.signal,
          onBatch: (done, total) => bars.show('sampling', done, total),
        });
        bars.close();
        if (!args.quiet) io.stderr.write(`${out.nfe} network calls per image\n`);
        images = out;
      } finally {
        await loaded.pipe.release();
      }
    }

    let report: Awaited<ReturnType<Evaluator['report']>>;
    try {
      report = await evaluator.report(images.data, images.dims);
    } catch (e) {
      if (e instanceof RangeError) throw new CliError(`evaluate: ${e.message}`);
      throw e;
    }
    bars.close();
    io.stdout.write(`${formatReport(report, what)}\n`);
    if (reportPath) {
      const json = {
        ...report,
        model: values.model ?? null,
        samples: samplesDir ?? null,
        sampler: sampler ?? null,
        steps: args.steps ?? null,
        seed: args.seed,
        samplerOptions,
      };
      await writeFileAtomic(reportPath, `${JSON.stringify(json, null, 2)}\n`);
      io.stdout.write(`${reportPath}\n`);
    }
    return 0;
  } finally {
    bars.close();
    await classifier.release();
  }
}
