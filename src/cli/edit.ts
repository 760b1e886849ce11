/** `scoresde inpaint` and `scoresde colorize`: PNG in, PNGs out, predictor–corrector sampling. */
import { loadImage, type PipelineImage } from '../pipelines/index.js';
import { Generator } from '../random/index.js';
import {
  CliError,
  type CliIO,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  parseCommandArgs,
  requireString,
} from './args.js';
import {
  configurePipeline,
  parseSamplerFlags,
  parseSamplingArgs,
  SAMPLING_OPTIONS,
  samplingOptionsHelp,
  writeImages,
} from './generate-common.js';
import { loadPipelineFromArgs } from './load-model.js';

export const INPAINT_HELP = `Usage: scoresde inpaint --model <id|dir> --image <png> --mask <png> [options]

Fills in the white part of the mask (black = keep, as in diffusers' inpainting pipelines) with
predictor–corrector sampling (score_sde's PC inpainter). The image must have the model's size.

      --image <png>        the image to complete
      --mask <png>         white = generate, black = keep
${samplingOptionsHelp('inpaint', '2000')}
${MODEL_OPTIONS_HELP}`;

export const COLORIZE_HELP = `Usage: scoresde colorize --model <id|dir> --image <png> [options]

Colours a grayscale image with predictor–corrector sampling (score_sde's PC colorizer): the result's
channel mean equals the input's. The image must have the model's size.

      --image <png>        the grayscale image (a colour image is reduced to its channel mean)
${samplingOptionsHelp('colorize', '2000')}
${MODEL_OPTIONS_HELP}`;

const COLORIZE_OPTIONS = { ...MODEL_OPTIONS, ...SAMPLING_OPTIONS, image: { type: 'string' } } as const;
const INPAINT_OPTIONS = { ...COLORIZE_OPTIONS, mask: { type: 'string' } } as const;

async function readImageArg(values: Record<string, unknown>, name: string, command: string) {
  const path = requireString(values, name, command);
  try {
    return await loadImage(path);
  } catch (e) {
    throw new CliError(`--${name}: ${(e as Error).message}`);
  }
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
  const args = parseSamplingArgs(values, command);
  const samplerOptions = parseSamplerFlags(values, 'pc');
  requireString(values, 'model', command);
  const image = await readImageArg(values, 'image', command);
  const mask = command === 'inpaint' ? await readImageArg(values, 'mask', command) : undefined;
  const loaded = await loadPipelineFromArgs(command, values, io);
  try {
    const pipe = configurePipeline(loaded.pipe, args, io);
    const common = {
      image,
      batchSize: args.batchSize,
      numInferenceSteps: args.steps ?? 2000,
      generator: new Generator().manualSeed(args.seed),
      samplerOptions,
      signal: io.signal,
    };
    let images: PipelineImage[];
    try {
      images = (mask ? await pipe.inpaint({ ...common, mask }) : await pipe.colorize(common)).images;
    } catch (e) {
      // Size mismatches and the like are the user's input, not a bug.
      if (e instanceof RangeError) throw new CliError(`${command}: ${e.message}`);
      throw e;
    }
    await writeImages(images, args, io);
    return 0;
  } finally {
    await loaded.pipe.release();
  }
}

export const runInpaint = (argv: string[], io: CliIO) => runEdit('inpaint', argv, io);
export const runColorize = (argv: string[], io: CliIO) => runEdit('colorize', argv, io);
