/** `scoresde sample`: generate images as a resumable, shardable run and write them as PNGs (atomically). */

import { DEFAULT_MODEL } from '../pipelines/default-model.js';
import type { ScoreSdeVePipeline } from '../pipelines/index.js';
import {
  SAMPLER_DEFAULTS,
  SAMPLER_DESCRIPTIONS,
  SAMPLER_NAMES,
  SAMPLER_OPTION_TABLE,
  SAMPLERS,
  type SamplerName,
  type SamplerOptionName,
  type SamplerOptions,
} from '../samplers/index.js';
import { type CliIO, intOption, MODEL_FLAGS, parseCommandArgs } from './args.js';
import { type FlagSection, flagHelp, flagOptions, type OptionSpec } from './flags.js';
import {
  bundledModelOptions,
  checkBatchFits,
  chooseSampling,
  configurePipeline,
  defaultStepsText,
  MAX_STEPS,
  outputFlags,
  paragraph,
  parseOutputArgs,
  samplerFlagList,
} from './generate-common.js';
import {
  checkSeedRange,
  executeRun,
  type ImageRun,
  MAX_COUNT,
  MAX_GRID_IMAGES,
  parseShard,
  planRun,
  shardBatches,
} from './image-run.js';
import { loadPipelineFromArgs } from './load-model.js';
import { prepareOutputDir } from './preflight.js';
import { SamplingProgress } from './sampling-progress.js';

/** Where `sample` writes without --out: a folder of its own, not the current one (a run makes many files). */
export const SAMPLE_DEFAULT_OUT = 'samples';

/** A sampler's default steps, in words. */
function defaultSteps(name: SamplerName): string {
  const steps = (SAMPLERS[name].defaults as { steps?: number }).steps;
  return steps === undefined ? 'adaptive' : `${steps} steps`;
}

/** The flags of `scoresde sample` but the model's, by help section. */
const SAMPLE_FLAGS: readonly FlagSection[] = [
  {
    title: 'Sampling options:',
    flags: [
      { name: 'count', value: '<n>', help: 'images to make (default: --batch-size)' },
      {
        name: 'shard',
        value: '<i>/<n>',
        help: 'make part i of n (0 ≤ i < n) of the --count images, in whole batches: n machines write what one would',
      },
      {
        name: 'sampler',
        value: '<name>',
        help: `${SAMPLER_NAMES.join(' | ')} instead of diffusers' loop`,
      },
      {
        name: 'list-samplers',
        help: 'list the samplers and the steps they run at for the model (default: the bundled one), then exit',
      },
      ...samplerFlagList(SAMPLER_NAMES, (o) =>
        o === 'steps' ? `${defaultStepsText()}; at most ${MAX_STEPS}` : defaultText(o),
      ),
    ],
  },
  { title: 'Output options:', flags: outputFlags(SAMPLE_DEFAULT_OUT) },
];

/** How `sample` names its files, for the help. */
const SAMPLE_FILES =
  'Files: <prefix>-<sampler>-<steps>-s<seed + k>.png (ode: <prefix>-ode-rtol<x>-s<seed + k>.png; heun with --churn: <prefix>-heun-<steps>-churn<x>-s<seed + k>.png), and, for 2 to ' +
  `${MAX_GRID_IMAGES} images without --shard, a grid <prefix>-<sampler>-<steps>-s<first>-s<last>-grid.png. ` +
  'An image whose file exists is kept, not made again: an interrupted run resumes. ' +
  'Other settings (the model, --snr, --predictor, …) are not in the names: give them their own --out or --prefix.';

export const SAMPLE_HELP = `Usage: scoresde sample [--model <id|dir>] [options]

Generates images with diffusers' ScoreSdeVePipeline loop (predictor-corrector
sampling) or another sampler. Image k is sampled with its own generator, seeded
seed + k, so with --batch-size 1 it is what Python diffusers gives for
  pipe(num_inference_steps=steps,
       generator=torch.Generator().manual_seed(seed + k))
heun, dpmpp-2m and ode make the same image k at any --batch-size; pc shares its
step sizes across a batch (as diffusers does), so there it also depends on the
images batched with it. Never on --shard.

${paragraph(`Without --model it samples the bundled Fashion-MNIST model (offline, seconds): ${DEFAULT_MODEL.count} images with ${DEFAULT_MODEL.sampler} at ${DEFAULT_MODEL.steps} steps${defaultOptionsText()} in one batch, and a grid.`)}

${flagHelp(SAMPLE_FLAGS)}

${paragraph(SAMPLE_FILES)}

${flagHelp([MODEL_FLAGS])}`;

/** A flag's default for help texts, from the samplers' defaults table. */
function defaultText(option: SamplerOptionName): string {
  // Scheduler settings default to the model's scheduler config.
  if (SAMPLER_OPTION_TABLE[option].scheduler) return '';
  const found = SAMPLER_NAMES.filter((n) => option in SAMPLER_DEFAULTS[n]).map(
    (n) => (SAMPLER_DEFAULTS[n] as Record<string, unknown>)[option],
  );
  if (found.length === 0 || !found.every((v) => v === found[0])) return '';
  const v = found[0];
  return typeof v === 'number' && v > 0 && v < 1e-3 ? v.toExponential() : String(v);
}

/** What `sample`'s parser accepts: exactly the flags its help lists. */
export const SAMPLE_OPTIONS: OptionSpec = flagOptions([...SAMPLE_FLAGS, MODEL_FLAGS]);

/**
 * Each sampler with the steps `sample` would run it at: for the bundled model (`bundled`, no --model) its
 * own default sampler and options, and a mark on the samplers its model card advises against.
 */
export function listSamplers(bundled: boolean): string {
  const width = Math.max(...SAMPLER_NAMES.map((n) => n.length));
  const lines = SAMPLER_NAMES.map((n) => {
    const own = bundled && n === DEFAULT_MODEL.sampler;
    const steps = own ? `${DEFAULT_MODEL.steps} steps` : defaultSteps(n);
    const options = bundled ? Object.entries(bundledModelOptions(n)).map(([k, v]) => `${k} ${v}`) : [];
    const advice = bundled ? DEFAULT_MODEL.notAdvised[n] : undefined;
    const notes = [
      ...(own ? [`default here${options.length > 0 ? `: ${options.join(', ')}` : ''}`] : []),
      ...(!own && options.length > 0 ? [options.join(', ')] : []),
      ...(advice ? [`not advised here: ${advice}`] : []),
    ];
    const note = notes.length > 0 ? ` [${notes.join('; ')}]` : '';
    return `${n.padEnd(width)}  ${steps.padEnd(10)}  ${SAMPLER_DESCRIPTIONS[n]}${note}`;
  });
  const about = bundled
    ? `the bundled model (without --model); without --sampler it runs ${DEFAULT_MODEL.sampler}, with --model <m> diffusers' loop (pc)`
    : "this model; without --sampler, diffusers' loop (pc)";
  return `${lines.join('\n')}\n\nSteps for ${about}.`;
}

/** The bundled model's sampler options for the help, e.g. " (churn 40)"; "" when it has none. */
function defaultOptionsText(): string {
  const entries = Object.entries(bundledModelOptions(DEFAULT_MODEL.sampler));
  return entries.length === 0 ? '' : ` (${entries.map(([k, v]) => `${k} ${v}`).join(', ')})`;
}

/** What distinguishes a run in its file names: sampler and steps (ode: its tolerance). */
export function runLabel(
  sampler: SamplerName,
  steps: number | undefined,
  options: Omit<SamplerOptions, 'shape'>,
) {
  // Churn makes heun another sampler: its images must not pass for (and resume) deterministic heun's.
  const churn = sampler === 'heun' && (options.churn ?? 0) > 0 ? `-churn${options.churn}` : '';
  // So does the Gaussian safety net.
  const gaussian =
    (options.gaussianNormAbove !== undefined ? `-gnorm${options.gaussianNormAbove}` : '') +
    (options.gaussianAbove !== undefined ? `-gauss${options.gaussianAbove}` : '');
  if (sampler === 'ode')
    return `ode-rtol${(options.rtol ?? SAMPLERS.ode.defaults.rtol).toExponential()}${gaussian}`;
  return `${sampler}-${steps}${churn}${gaussian}`;
}

/** The flags of a sampling run, checked before anything is read or loaded. */
function sampleArgs(values: Record<string, string | boolean | undefined>) {
  // Without --model: the bundled model, with its own sampler, steps and count (one batch, one grid).
  const bundled = values.model === undefined;
  const { sampler, kind, steps, flags } = chooseSampling(values, values.sampler as SamplerName | undefined);
  const parsed = parseOutputArgs(values, 'sample', SAMPLE_DEFAULT_OUT);
  const out =
    bundled && values['batch-size'] === undefined ? { ...parsed, batchSize: DEFAULT_MODEL.count } : parsed;
  const count = intOption(values, 'count', out.batchSize, 1, MAX_COUNT);
  const shard = parseShard(values.shard);
  checkSeedRange(out.seed, count);
  return { sampler, kind, steps, flags, out, count, shard };
}

type SampleArgs = ReturnType<typeof sampleArgs>;

/** The run's images in `outDir`, sampled by the pipeline `pipe()` gives once the model is loaded. */
function sampleRun(a: SampleArgs, outDir: string, io: CliIO, pipe: () => ScoreSdeVePipeline): ImageRun {
  const { out, kind, steps, sampler, flags, count, shard } = a;
  const batches = shardBatches(count, Math.min(out.batchSize, count), shard);
  return {
    io,
    outDir,
    prefix: out.prefix,
    label: runLabel(kind, steps, flags.samplerOptions),
    seed: out.seed,
    batches,
    existing: 'resume',
    force: out.force,
    quiet: out.quiet,
    rowsIndependent: SAMPLERS[kind].rowsIndependent,
    grid: shard === undefined && count <= MAX_GRID_IMAGES ? batches.flat() : undefined,
    sample: async (generators, onStep) => {
      const { images } = await pipe().call({
        batchSize: generators.length,
        numInferenceSteps: steps,
        generator: generators,
        sampler,
        samplerOptions: flags.samplerOptions,
        onStep,
        signal: io.signal,
      });
      return images;
    },
  };
}

export async function runSample(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('sample', argv, SAMPLE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${SAMPLE_HELP}\n`);
    return 0;
  }
  if (values['list-samplers']) {
    io.stdout.write(`${listSamplers(values.model === undefined)}\n`);
    return 0;
  }
  const args = sampleArgs(values);
  const { kind, steps, flags, out, count, shard } = args;

  // Before the model loads: the output folder, stale temp files, and what is already done.
  const outDir = await prepareOutputDir(out.out, 'out');
  let pipe: ScoreSdeVePipeline | undefined;
  const run = sampleRun(args, outDir, io, () => pipe!);
  const { work, kept } = await planRun(run);
  if (kept > 0) {
    io.stderr.write(`scoresde: ${kept} image(s) already in ${outDir} are kept (--force makes them again)\n`);
  }
  if (shard !== undefined && run.batches.length === 0) {
    io.stderr.write(`scoresde: shard ${shard.index}/${shard.of} has no images (${count} images)\n`);
  }
  if (work.length === 0) {
    // Nothing to sample; the grid, if any, comes from the files.
    await executeRun(run, [], new SamplingProgress({ stream: io.stderr, disable: true, batches: 0, steps }));
    return 0;
  }

  const loaded = await loadPipelineFromArgs('sample', values, io);
  pipe = loaded.pipe;
  try {
    pipe = configurePipeline(loaded.pipe, flags.scheduler);
    checkBatchFits(pipe, Math.max(0, ...work.map((w) => w.rows.length)));
    const c = pipe.scheduler.config;
    const progress = new SamplingProgress({
      stream: io.stderr,
      disable: out.quiet,
      batches: work.length,
      steps,
      ode:
        kind === 'ode'
          ? { sigmaMin: c.sigma_min, sigmaMax: c.sigma_max, eps: SAMPLERS.ode.defaults.eps }
          : undefined,
    });
    await executeRun(run, work, progress);
    return 0;
  } finally {
    await pipe.release();
  }
}
