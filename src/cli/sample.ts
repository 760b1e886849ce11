/** `scoresde sample`: generate images and write them as PNGs (atomically), plus a grid for batches. */
import { Generator } from '../random/index.js';
import { SAMPLER_DESCRIPTIONS, SAMPLER_NAMES, type SamplerName } from '../samplers/index.js';
import { type CliIO, MODEL_OPTIONS, MODEL_OPTIONS_HELP, parseCommandArgs, UsageError } from './args.js';
import {
  configurePipeline,
  parseSamplerFlags,
  parseSamplingArgs,
  SAMPLER_TUNING_HELP,
  SAMPLER_TUNING_OPTIONS,
  SAMPLING_OPTIONS,
  samplingOptionsHelp,
  writeImages,
} from './generate-common.js';
import { loadPipelineFromArgs } from './load-model.js';

export const SAMPLE_HELP = `Usage: scoresde sample --model <id|dir> [options]

Generates images with diffusers' ScoreSdeVePipeline algorithm (predictor–corrector sampling).
Same model, seed and steps → the same images as Python diffusers'
pipe(batch_size=B, num_inference_steps=N, generator=torch.Generator().manual_seed(seed)).

${samplingOptionsHelp('sample', "2000; another sampler's own default with --sampler")}
      --sampler <name>     another sampler instead of diffusers' loop (see --list-samplers)
      --list-samplers      list the samplers and exit
${SAMPLER_TUNING_HELP}
${MODEL_OPTIONS_HELP}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...SAMPLING_OPTIONS,
  ...SAMPLER_TUNING_OPTIONS,
  sampler: { type: 'string' },
  'list-samplers': { type: 'boolean' },
} as const;

export function listSamplers(): string {
  const width = Math.max(...SAMPLER_NAMES.map((n) => n.length));
  return SAMPLER_NAMES.map((n) => `${n.padEnd(width)}  ${SAMPLER_DESCRIPTIONS[n]}`).join('\n');
}

export async function runSample(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('sample', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${SAMPLE_HELP}\n`);
    return 0;
  }
  if (values['list-samplers']) {
    io.stdout.write(`${listSamplers()}\n`);
    return 0;
  }
  const sampler = values.sampler as string | undefined;
  if (sampler !== undefined && !(SAMPLER_NAMES as readonly string[]).includes(sampler)) {
    throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got "${sampler}"`);
  }
  const args = parseSamplingArgs(values, 'sample');
  const samplerOptions = parseSamplerFlags(values, sampler);
  const loaded = await loadPipelineFromArgs('sample', values, io);
  try {
    const pipe = configurePipeline(loaded.pipe, args, io);
    const { images } = await pipe.call({
      batchSize: args.batchSize ?? 1,
      // diffusers' loop defaults to 2000 steps; other samplers to their own default.
      numInferenceSteps: args.steps ?? (sampler === undefined ? 2000 : undefined),
      generator: new Generator().manualSeed(args.seed),
      sampler: sampler as SamplerName | undefined,
      samplerOptions,
      signal: io.signal,
    });
    await writeImages(images, args, io);
    return 0;
  } finally {
    await loaded.pipe.release();
  }
}
