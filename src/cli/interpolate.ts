/** `scoresde interpolate`: two images → their probability-flow latents → a slerp path, decoded, as a PNG strip. */
import { stat } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { decodeImage } from '../data/image-decode.js';
import { interpolateImages } from '../likelihood/index.js';
import { makeImageGrid, numpyToPil, type ScoreSdeVePipeline, toClampedNHWC } from '../pipelines/index.js';
import { ProgressBar } from '../progress.js';
import { Tensor } from '../tensor.js';
import {
  CliError,
  type CliIO,
  intOption,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  parseCommandArgs,
  positiveNumberOption,
  requireString,
  UsageError,
} from './args.js';
import { type FlagSection, flagHelp, flagOptions, type OptionSpec } from './flags.js';
import { loadPipelineFromArgs, modelArg } from './load-model.js';
import { checkPngInput, MAX_INPUT_PIXELS, prepareOutputDir } from './preflight.js';

const INTERPOLATE_FLAGS: FlagSection = {
  flags: [
    {
      name: 'a',
      value: '<png>',
      also: [{ name: 'b', value: '<png>' }],
      help: "the two images (resized and centre-cropped to the model's size, grey for 1-channel models)",
    },
    { name: 'frames', value: '<k>', help: 'frames including both ends (default 8)' },
    { name: 'out', short: 'o', value: '<file.png>', help: 'the strip (default interpolation.png)' },
    { name: 'force', help: 'overwrite --out if it exists' },
    {
      name: 'rtol',
      value: '<x>',
      also: [{ name: 'atol', value: '<x>' }],
      help: 'RK45 tolerances (default 1e-5)',
    },
    { name: 'quiet', short: 'q', help: 'no progress bar' },
  ],
};

export const INTERPOLATE_HELP = `Usage: scoresde interpolate [--model <id|dir>] --a <png> --b <png> [options]

Encodes two images to their latents through the probability-flow ODE
(deterministic, t = eps to 1), interpolates the latents spherically, decodes
every frame and writes them side by side as one PNG. The first and last frames
are the round trip of the inputs; its error is printed.

${flagHelp([INTERPOLATE_FLAGS])}

${MODEL_OPTIONS_HELP}`;

/** What `interpolate`'s parser accepts: exactly the flags its help lists. */
export const INTERPOLATE_OPTIONS: OptionSpec = { ...MODEL_OPTIONS, ...flagOptions([INTERPOLATE_FLAGS]) };

/** Frames (K, C, H, W) → 8-bit RGB images (grey repeated), as the pipeline converts its output. */
function framesToImages(frames: Tensor<'float32'>) {
  const [k, c, h, w] = frames.dims;
  if (c === 3) return numpyToPil(toClampedNHWC(frames));
  const rgb = new Float32Array(k * 3 * h * w);
  for (let i = 0; i < k; i++)
    for (let ch = 0; ch < 3; ch++)
      rgb.set(frames.data.subarray(i * h * w, (i + 1) * h * w), (i * 3 + ch) * h * w);
  return numpyToPil(toClampedNHWC(new Tensor('float32', rgb, [k, 3, h, w])));
}

/** Before the model loads: readable PNG inputs, a writable output folder, no silent overwrite. */
async function checkPaths(aPath: string, bPath: string, out: string, force: boolean): Promise<void> {
  await checkPngInput(aPath, 'a');
  await checkPngInput(bPath, 'b');
  await prepareOutputDir(dirname(out), 'out');
  const existing = await stat(out).catch(() => undefined);
  if (existing?.isDirectory()) throw new CliError(`--out ${out}: is a folder, not a file`);
  if (existing && !force) throw new CliError(`--out ${out}: exists; pass --force to overwrite`);
}

/** An image as (1, C, H, W) in [0, 1] at the model's channel count and size. */
async function readForModel(pipe: ScoreSdeVePipeline, path: string): Promise<Tensor<'float32'>> {
  const [height, width] = pipe.sampleSize;
  const channels = pipe.unet.config.in_channels;
  if (channels !== 1 && channels !== 3)
    throw new CliError(`interpolate: the model has ${channels} input channels; images need 1 or 3`);
  const target = { channels, height, width, resize: 'resize', maxInputPixels: MAX_INPUT_PIXELS } as const;
  const bytes = await decodeImage(path, target).catch((e: Error) => {
    throw new CliError(e.message);
  });
  return new Tensor(
    'float32',
    Float32Array.from(bytes, (v) => v / 255),
    [1, channels, height, width],
  );
}

export async function runInterpolate(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('interpolate', argv, INTERPOLATE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${INTERPOLATE_HELP}\n`);
    return 0;
  }
  modelArg(values, 'interpolate');
  const aPath = requireString(values, 'a', 'interpolate');
  const bPath = requireString(values, 'b', 'interpolate');
  const frames = intOption(values, 'frames', 8, 2, 1024);
  const out = (values.out as string | undefined) ?? 'interpolation.png';
  if (extname(out).toLowerCase() !== '.png') throw new UsageError(`--out must end in .png, got "${out}"`);
  const rtol = positiveNumberOption(values, 'rtol');
  const atol = positiveNumberOption(values, 'atol');
  await checkPaths(aPath, bPath, out, values.force === true);

  const { pipe } = await loadPipelineFromArgs('interpolate', values, io);
  try {
    const a = await readForModel(pipe, aPath);
    const b = await readForModel(pipe, bPath);
    const { sigma_min: sigmaMin, sigma_max: sigmaMax } = pipe.scheduler.config;
    // Two adaptive solves (encode the pair, decode the frames) of unknown length: one bar counting RK45 steps.
    const bar = new ProgressBar({
      desc: 'encode + decode',
      unit: 'step',
      disable: values.quiet === true,
      stream: io.stderr,
    });
    let result: Awaited<ReturnType<typeof interpolateImages>>;
    try {
      result = await interpolateImages(
        pipe.scoreFn,
        a,
        b,
        frames,
        { sigmaMin, sigmaMax, rtol, atol },
        { signal: io.signal, onStep: () => bar.update() },
      );
    } finally {
      bar.close();
    }
    await makeImageGrid(framesToImages(result.frames), 1, frames).save(out);
    const [ea, eb] = result.roundTripError.map((e) => e.toExponential(2));
    io.stdout.write(
      `wrote ${out} (${frames} frames, ${result.nfe} network calls); round trip max |decode(encode(x)) − x|: a ${ea}, b ${eb}\n`,
    );
    warnInexactEnds(result.roundTripError, [aPath, bPath], rtol, io);
    return 0;
  } finally {
    await pipe.release();
  }
}

/** Ends more than this many 8-bit levels off their input are not the input: the frames no longer start there. */
const ROUND_TRIP_WARN_LEVELS = 2;

/**
 * Warns when an end frame is visibly not its input: the flow of some images is so sensitive that the solver's
 * own error grows to many levels (models/fashion-mnist's model card: up to 118 levels at 1e-5, within 8 at 1e-7).
 */
function warnInexactEnds(
  errors: readonly number[],
  paths: readonly string[],
  rtol: number | undefined,
  io: CliIO,
) {
  for (const [i, e] of errors.entries()) {
    const levels = 255 * e;
    if (!(levels > ROUND_TRIP_WARN_LEVELS)) continue;
    const tighter = ((rtol ?? 1e-5) / 100).toExponential(0);
    io.stderr.write(
      `scoresde: warning: ${paths[i]} comes back ${levels.toFixed(1)} 8-bit levels off after encode + decode, so the frame at its end is not that image; a tighter --rtol/--atol (e.g. ${tighter}, several times the network calls) makes the round trip exact\n`,
    );
  }
}
