/** `scoresde inpaint` and `scoresde colorize`: PNG in, PNGs out, predictor–corrector sampling. */
import { loadImage, type PipelineImage, type ScoreSdeVePipeline } from '../pipelines/index.js';
import { SAMPLER_OPTION_TABLE, SAMPLERS, type SamplerOptionName } from '../samplers/index.js';
import {
  CliError,
  type CliIO,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  parseCommandArgs,
  requireString,
} from './args.js';
import { flagHelp } from './flags.js';
import {
  checkBatchFits,
  configurePipeline,
  MAX_STEPS,
  OUTPUT_OPTIONS,
  outputOptionsHelp,
  parseOutputArgs,
  parseSamplerFlags,
  SAMPLER_FLAG_OPTIONS,
  samplerFlagList,
} from './generate-common.js';
import { checkSeedRange, executeRun, type ImageRun, planRun, shardBatches } from './image-run.js';
import { loadPipelineFromArgs, modelArg } from './load-model.js';
import { checkPngInput, prepareOutputDir } from './preflight.js';
import { SamplingProgress } from './sampling-progress.js';

const PC_DEFAULTS = SAMPLERS.pc.defaults as Record<string, unknown>;

/** Defaults for help: scheduler settings come from the model's scheduler config. */
const pcDefault = (o: SamplerOptionName): string =>
  o === 'steps'
    ? `${PC_DEFAULTS.steps}; at most ${MAX_STEPS}`
    : SAMPLER_OPTION_TABLE[o].scheduler
      ? ''
      : String(PC_DEFAULTS[o] ?? '');

const editHelp = (command: string) => `
${flagHelp([{ title: 'Sampling options (pc):', flags: samplerFlagList(['pc'], pcDefault) }])}

${outputOptionsHelp(
  `Files: ${command}-pc-<steps>-s<seed + k>.png for images k = 0 … batch size − 1; ` +
    'a file that exists is refused without --force.',
)}`;

export const INPAINT_HELP = `Usage: scoresde inpaint [--model <id|dir>] --image <png> --mask <png> [options]

Fills in the white part of the mask (black = keep, as in diffusers' inpainting
pipelines) with predictor-corrector sampling (score_sde's PC inpainter). The
image must have the model's size.

      --image <png>        the image to complete
      --mask <png>         white = generate, black = keep
${editHelp('inpaint')}

${MODEL_OPTIONS_HELP}`;

export const COLORIZE_HELP = `Usage: scoresde colorize [--model <id|dir>] --image <png> [options]

Colours a grayscale image with predictor-corrector sampling (score_sde's PC
colorizer): the result's channel mean equals the input's. The image must have
the model's size.

      --image <png>        the grayscale image (colour: its channel mean)
${editHelp('colorize')}

${MODEL_OPTIONS_HELP}`;

/** What `colorize`'s parser accepts: its help's flags, and the other samplers' flags (refused by name). */
export const COLORIZE_OPTIONS = {
  ...MODEL_OPTIONS,
  ...OUTPUT_OPTIONS,
  ...SAMPLER_FLAG_OPTIONS,
  image: { type: 'string' },
} as const;
export const INPAINT_OPTIONS = { ...COLORIZE_OPTIONS, mask: { type: 'string' } } as const;

async function readImageArg(path: string, name: string, size: [number, number]): Promise<PipelineImage> {
  // The header first: a small file may declare a huge image.
  await checkPngInput(path, name, { size });
  try {
    return await loadImage(path);
  } catch (e) {
    throw new CliError(`--${name}: ${(e as Error).message}`);
  }
}

/** One batch of inpainting (with a mask) or colorization of `image`, for the image run. */
function editBatch(
  command: 'inpaint' | 'colorize',
  pipe: ScoreSdeVePipeline,
  o: {
    image: PipelineImage;
    mask?: PipelineImage;
    steps: number;
    flags: ReturnType<typeof parseSamplerFlags>;
    signal?: AbortSignal;
  },
): ImageRun['sample'] {
  return async (generators, onStep) => {
    const common = {
      image: o.image,
      batchSize: generators.length,
      numInferenceSteps: o.steps,
      generator: generators,
      samplerOptions: o.flags.samplerOptions,
      onStep,
      signal: o.signal,
    };
    try {
      return (o.mask ? await pipe.inpaint({ ...common, mask: o.mask }) : await pipe.colorize(common)).images;
    } catch (e) {
      // Size mismatches and the like are the user's input, not a bug.
      if (e instanceof RangeError) throw new CliError(`${command}: ${e.message}`);
      throw e;
    }
  };
}

async function runEdit(command: 'inpaint' | 'colorize', argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(
    command,
    argv,
    command === 'inpaint' ? INPAINT_OPTIONS : COLORIZE_OPTIONS,
  );
  if (values.help) {
    io.stdout.write(`${command === 'inpaint' ? INPAINT_HELP : COLORIZE_HELP}\n`);
    return 0;
  }
  const flags = parseSamplerFlags(values, 'pc');
  const out = parseOutputArgs(values, command);
  checkSeedRange(out.seed, out.batchSize);
  modelArg(values, command);
  // Before the model loads: inputs readable and not oversized, the output folder writable.
  const imagePath = requireString(values, 'image', command);
  const maskPath = command === 'inpaint' ? requireString(values, 'mask', command) : undefined;
  await checkPngInput(imagePath, 'image');
  if (maskPath !== undefined) await checkPngInput(maskPath, 'mask');
  const outDir = await prepareOutputDir(out.out, 'out');
  const steps = flags.steps ?? (PC_DEFAULTS.steps as number);

  let sampleBatch: ImageRun['sample'] = async () => [];
  const run: ImageRun = {
    io,
    outDir,
    prefix: out.prefix,
    label: `pc-${steps}`,
    seed: out.seed,
    batches: shardBatches(out.batchSize, out.batchSize),
    existing: 'refuse',
    force: out.force,
    quiet: out.quiet,
    rowsIndependent: false,
    sample: (generators, onStep) => sampleBatch(generators, onStep),
  };
  const { work } = await planRun(run);

  const loaded = await loadPipelineFromArgs(command, values, io);
  try {
    const pipe = configurePipeline(loaded.pipe, flags.scheduler);
    checkBatchFits(pipe, out.batchSize);
    const image = await readImageArg(imagePath, 'image', pipe.sampleSize);
    const mask = maskPath === undefined ? undefined : await readImageArg(maskPath, 'mask', pipe.sampleSize);
    sampleBatch = editBatch(command, pipe, { image, mask, steps, flags, signal: io.signal });
    const progress = new SamplingProgress({
      stream: io.stderr,
      disable: out.quiet,
      batches: work.length,
      steps,
    });
    await executeRun(run, work, progress);
    return 0;
  } finally {
    await loaded.pipe.release();
  }
}

export const runInpaint = (argv: string[], io: CliIO) => runEdit('inpaint', argv, io);
export const runColorize = (argv: string[], io: CliIO) => runEdit('colorize', argv, io);
