/** What `sample`, `inpaint` and `colorize` share: sampling flags, scheduler overrides and PNG output. */
import { join, resolve } from 'node:path';
import { gridShape, makeImageGrid, type PipelineImage, ScoreSdeVePipeline } from '../pipelines/index.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import { type CliIO, intOption, positiveNumberOption, UsageError } from './args.js';

export const SAMPLING_OPTIONS = {
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string', short: 'o' },
  prefix: { type: 'string' },
  snr: { type: 'string' },
  'sigma-max': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

export function samplingOptionsHelp(defaultPrefix: string, defaultSteps: string): string {
  return `Sampling options:
      --steps <n>          predictor steps, diffusers num_inference_steps (default ${defaultSteps})
      --batch-size <n>     images per run (default 1)
      --seed <n>           random seed (default 0); one torch.Generator().manual_seed(seed) for the batch
      --out <dir>          output folder (default .): <prefix>-<seed>-<i>.png, plus <prefix>-<seed>-grid.png for a batch
      --prefix <name>      file name prefix (default ${defaultPrefix})
      --snr <x>            corrector signal-to-noise ratio (overrides the scheduler config)
      --sigma-max <x>      largest noise level σ_max (overrides the scheduler config)
  -q, --quiet              no progress bar`;
}

export interface SamplingArgs {
  /** Undefined when not given (each sampler has its own default). */
  steps?: number;
  batchSize?: number;
  seed: number;
  outDir: string;
  prefix: string;
  quiet: boolean;
  snr?: number;
  sigmaMax?: number;
}

export function parseSamplingArgs(values: Record<string, unknown>, defaultPrefix: string): SamplingArgs {
  const prefix = (values.prefix as string | undefined) ?? defaultPrefix;
  if (prefix === '' || /[/\\]/.test(prefix))
    throw new UsageError(`--prefix must be a plain file name part, got "${prefix}"`);
  return {
    steps: values.steps === undefined ? undefined : intOption(values, 'steps', 0, 1),
    batchSize: values['batch-size'] === undefined ? undefined : intOption(values, 'batch-size', 1, 1),
    seed: intOption(values, 'seed', 0, 0),
    outDir: resolve((values.out as string | undefined) ?? '.'),
    prefix,
    quiet: values.quiet === true,
    snr: positiveNumberOption(values, 'snr'),
    sigmaMax: positiveNumberOption(values, 'sigma-max'),
  };
}

/** The pipeline with --snr / --sigma-max applied to its scheduler, and the CLI's progress bar settings. */
export function configurePipeline(
  pipe: ScoreSdeVePipeline,
  args: SamplingArgs,
  io: CliIO,
): ScoreSdeVePipeline {
  let out = pipe;
  if (args.snr !== undefined || args.sigmaMax !== undefined) {
    const config: Record<string, unknown> = { ...pipe.scheduler.config };
    if (args.snr !== undefined) config.snr = args.snr;
    if (args.sigmaMax !== undefined) config.sigma_max = args.sigmaMax;
    out = new ScoreSdeVePipeline({ unet: pipe.unet, scheduler: ScoreSdeVeScheduler.fromConfig(config) });
  }
  out.setProgressBarConfig({ disable: args.quiet, stream: io.stderr, unit: 'step' });
  return out;
}

/** Writes each image atomically (printing its path), then a near-square grid when there are several. */
export async function writeImages(
  images: readonly PipelineImage[],
  args: SamplingArgs,
  io: CliIO,
): Promise<void> {
  const name = (suffix: string) => join(args.outDir, `${args.prefix}-${args.seed}-${suffix}.png`);
  for (const [i, image] of images.entries()) {
    await image.save(name(String(i)));
    io.stdout.write(`${name(String(i))}\n`);
  }
  if (images.length > 1) {
    const { rows, cols } = gridShape(images.length);
    await makeImageGrid(images, rows, cols).save(name('grid'));
    io.stdout.write(`${name('grid')}\n`);
  }
}
