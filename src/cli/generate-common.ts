/** What `sample`, `inpaint` and `colorize` share: sampling flags, scheduler overrides and PNG output. */
import { join, resolve } from 'node:path';
import { gridShape, makeImageGrid, type PipelineImage, ScoreSdeVePipeline } from '../pipelines/index.js';
import { PC_CORRECTORS, PC_PREDICTORS, type SamplerOptions } from '../samplers/index.js';
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
  'corrector-steps': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  predictor: { type: 'string' },
  corrector: { type: 'string' },
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
      --corrector-steps <n>  corrector steps per step, diffusers correct_steps (overrides the scheduler config)
      --predictor <name>   PC predictor: ${PC_PREDICTORS.join(' | ')} (default reverse-diffusion)
      --corrector <name>   PC corrector: ${PC_CORRECTORS.join(' | ')} (default langevin)
  -q, --quiet              no progress bar`;
}

/** Flags that tune one sampler, and the samplers they belong to. */
export const SAMPLER_TUNING_OPTIONS = {
  rho: { type: 'string' },
  churn: { type: 'string' },
  rtol: { type: 'string' },
  atol: { type: 'string' },
} as const;

export const SAMPLER_TUNING_HELP = `      --rho <x>            heun, dpmpp-2m: exponent of the σ schedule (default 7)
      --churn <x>          heun: stochastic churn S_churn (default 0, deterministic)
      --rtol <x>, --atol <x>  ode: RK45 tolerances (default 1e-5)`;

const FLAG_SAMPLERS: Record<string, readonly string[]> = {
  predictor: ['pc'],
  corrector: ['pc'],
  rho: ['heun', 'dpmpp-2m'],
  churn: ['heun'],
  rtol: ['ode'],
  atol: ['ode'],
};

/**
 * The sampler-tuning flags as `samplerOptions`. `sampler` is the sampler that will run ('pc' for inpaint and
 * colorize; undefined for diffusers' own loop, which takes none of them): a flag for another sampler is an
 * error rather than silently ignored.
 */
export function parseSamplerFlags(
  values: Record<string, unknown>,
  sampler: string | undefined,
): Omit<SamplerOptions, 'shape'> {
  for (const [flag, owners] of Object.entries(FLAG_SAMPLERS)) {
    if (values[flag] === undefined || (sampler !== undefined && owners.includes(sampler))) continue;
    const hint = sampler === undefined ? `; add --sampler ${owners[0]}` : '';
    throw new UsageError(
      `--${flag} applies to --sampler ${owners.join(' or ')}, not to ${sampler ?? "diffusers' own loop"}${hint}`,
    );
  }
  const choice = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (!(allowed as readonly unknown[]).includes(v))
      throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
  const churn = values.churn === undefined ? undefined : Number(values.churn);
  if (churn !== undefined && !(churn >= 0 && Number.isFinite(churn))) {
    throw new UsageError(`--churn must be a number ≥ 0, got "${values.churn}"`);
  }
  const options: Omit<SamplerOptions, 'shape'> = {
    predictor: choice('predictor', PC_PREDICTORS),
    corrector: choice('corrector', PC_CORRECTORS),
    rho: positiveNumberOption(values, 'rho'),
    churn,
    rtol: positiveNumberOption(values, 'rtol'),
    atol: positiveNumberOption(values, 'atol'),
  };
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
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
  correctSteps?: number;
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
    correctSteps:
      values['corrector-steps'] === undefined ? undefined : intOption(values, 'corrector-steps', 0, 0),
  };
}

/** The pipeline with --snr / --sigma-max / --corrector-steps applied to its scheduler, and the CLI's progress bar settings. */
export function configurePipeline(
  pipe: ScoreSdeVePipeline,
  args: SamplingArgs,
  io: CliIO,
): ScoreSdeVePipeline {
  let out = pipe;
  if (args.snr !== undefined || args.sigmaMax !== undefined || args.correctSteps !== undefined) {
    const config: Record<string, unknown> = { ...pipe.scheduler.config };
    if (args.snr !== undefined) config.snr = args.snr;
    if (args.sigmaMax !== undefined) config.sigma_max = args.sigmaMax;
    if (args.correctSteps !== undefined) config.correct_steps = args.correctSteps;
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
