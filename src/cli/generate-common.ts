/** What `sample`, `inpaint` and `colorize` share: sampling flags, scheduler overrides, bounds and help. */
import { totalmem } from 'node:os';
import { DEFAULT_MODEL } from '../pipelines/default-model.js';
import { ScoreSdeVePipeline } from '../pipelines/index.js';
import {
  networkCalls,
  networkCallsWith,
  SAMPLER_NAMES,
  SAMPLER_OPTION_TABLE,
  SAMPLERS,
  type SamplerName,
  type SamplerOptionInfo,
  type SamplerOptionName,
  type SamplerOptions,
} from '../samplers/index.js';
import { schedulerSamplerSettings } from '../samplers/ve-scheduler.js';
import { ScoreSdeVeScheduler, type ScoreSdeVeSchedulerConfig } from '../schedulers/index.js';
import { CliError, intOption, positiveNumberOption, seedOption, UsageError } from './args.js';
import { type Flag, flagHelp, flagOptions, type OptionSpec, wrapWords } from './flags.js';

/** Most steps accepted: 100,000 is 50× diffusers' 2000 and days per image on a CPU. */
export const MAX_STEPS = 100_000;
/** Most images per network batch accepted before the memory estimate (see checkBatchFits). */
export const MAX_BATCH_SIZE = 65_536;
/** Most corrector steps per step. */
const MAX_CORRECTOR_STEPS = 100;

/** Sampler flags, from the one table (SAMPLER_OPTION_TABLE): flag → option. */
const SAMPLER_FLAGS: readonly [string, SamplerOptionName, SamplerOptionInfo][] = (
  Object.entries(SAMPLER_OPTION_TABLE) as [SamplerOptionName, SamplerOptionInfo][]
)
  .filter(([, info]) => info.cli !== undefined)
  .map(([name, info]) => [info.cli!.flag, name, info]);

export const SAMPLER_FLAG_OPTIONS = Object.fromEntries(
  SAMPLER_FLAGS.map(([flag]) => [flag, { type: 'string' as const }]),
) as Record<string, { type: 'string' }>;

/** Flags every generating command has besides the sampler flags; `defaultOut` is --out's default. */
export function outputFlags(defaultOut = '.'): Flag[] {
  return [
    {
      name: 'out',
      short: 'o',
      value: '<dir>',
      help: `output folder (default ${defaultOut}), created if needed`,
    },
    { name: 'prefix', value: '<name>', help: "file name prefix (default: the command's name)" },
    { name: 'force', help: 'make and overwrite files that exist' },
    { name: 'batch-size', value: '<n>', help: 'images per network batch (default 1)' },
    {
      name: 'seed',
      value: '<n>',
      help: 'seed of image 0, from 0 to 2^64 − 1 (default 0);\nimage k uses torch.Generator().manual_seed(seed + k)',
    },
    { name: 'quiet', short: 'q', help: 'no progress bar' },
  ];
}

export const OUTPUT_OPTIONS: OptionSpec = flagOptions([{ flags: outputFlags() }]);

/** Who reads an option, for help texts: "pc", "heun, dpmpp-2m", or "" for every sampler. */
function owners(info: SamplerOptionInfo, samplers: readonly SamplerName[]): string {
  const mine = info.samplers.filter((s) => samplers.includes(s));
  return mine.length === samplers.length ? '' : `${mine.join(', ')}: `;
}

/** Each sampler's default steps, from the samplers table: "pc 2000, heun 50, dpmpp-2m 50". */
export function defaultStepsText(samplers: readonly SamplerName[] = SAMPLER_NAMES): string {
  return samplers
    .flatMap((n) => {
      const steps = (SAMPLERS[n].defaults as { steps?: number }).steps;
      return steps === undefined ? [] : [`${n} ${steps}`];
    })
    .join(', ');
}

/**
 * The sampler flags the given samplers read, for a help section, with each sampler's default where it has
 * one; `samplers` = ['pc'] for inpaint / colorize.
 */
export function samplerFlagList(
  samplers: readonly SamplerName[],
  defaults: (o: SamplerOptionName) => string,
): Flag[] {
  return SAMPLER_FLAGS.filter(([, , info]) => info.samplers.some((s) => samplers.includes(s))).map(
    ([flag, name, info]) => {
      const d = defaults(name);
      const choices = info.cli!.choices ? ` ${info.cli!.choices.join(' | ')}` : '';
      const help = `${owners(info, samplers)}${info.cli!.help}${choices}${d ? ` (default ${d})` : ''}`;
      return { name: flag, value: info.cli!.arg, option: name, help };
    },
  );
}

/** `text` as lines of at most `width` columns. */
export function paragraph(text: string, width = 80): string {
  return wrapWords(text, '', '', width);
}

/** The output flags' help section, then `files`: how the files are named (a paragraph). */
export function outputOptionsHelp(files: string, defaultOut = '.'): string {
  return `${flagHelp([{ title: 'Output options:', flags: outputFlags(defaultOut) }])}\n\n${paragraph(files)}`;
}

export interface SamplerFlags {
  /** Settings for the sampler (predictor, rho, rtol, …). */
  samplerOptions: Omit<SamplerOptions, 'shape'>;
  /** Scheduler-config overrides (--snr, --sigma-max, --corrector-steps). */
  scheduler: { snr?: number; sigmaMax?: number; correctSteps?: number };
  /** --steps, when given. */
  steps?: number;
}

/**
 * The sampler flags, checked against the one table: `sampler` is the sampler that will run ('pc' for
 * inpaint and colorize; undefined for diffusers' own loop, which takes `--steps` and the scheduler settings).
 * A flag for another sampler is an error rather than silently ignored. Flags override `defaults` (the
 * bundled model's own options, from chooseSampling).
 */
export function parseSamplerFlags(
  values: Record<string, unknown>,
  sampler: SamplerName | undefined,
  defaults: Readonly<Omit<SamplerOptions, 'shape'>> = {},
): SamplerFlags {
  const out: SamplerFlags = { samplerOptions: { ...defaults }, scheduler: {} };
  for (const [flag, name, info] of SAMPLER_FLAGS) {
    const v = values[flag];
    if (v === undefined) continue;
    const allowed =
      sampler === undefined ? info.scheduler === true || name === 'steps' : info.samplers.includes(sampler);
    if (!allowed) {
      const hint = sampler === undefined ? `; add --sampler ${info.samplers[0]}` : '';
      throw new UsageError(
        `--${flag} applies to --sampler ${info.samplers.join(' or ')}, not to ${sampler ?? "diffusers' own loop"}${hint}`,
      );
    }
    const choices = info.cli!.choices;
    if (choices !== undefined) {
      if (!choices.includes(String(v)))
        throw new UsageError(`--${flag} must be one of ${choices.join(', ')}, got "${v}"`);
      (out.samplerOptions as Record<string, unknown>)[name] = v;
    } else if (name === 'steps') {
      out.steps = intOption(values, flag, 0, 1, MAX_STEPS);
    } else if (name === 'correctSteps') {
      out.scheduler.correctSteps = intOption(values, flag, 0, 0, MAX_CORRECTOR_STEPS);
    } else if (name === 'churn') {
      const churn = Number(String(v).trim());
      if (String(v).trim() === '' || !(churn >= 0 && Number.isFinite(churn)))
        throw new UsageError(`--churn must be a number ≥ 0, got "${v}"`);
      out.samplerOptions.churn = churn;
    } else if (name === 'gaussianAbove' || name === 'gaussianNormAbove') {
      if (String(v).trim() === 'off')
        delete out.samplerOptions[name]; // e.g. the bundled model's own correction
      else {
        const sigma = Number(String(v).trim());
        if (String(v).trim() === '' || !(sigma > 0 && Number.isFinite(sigma)))
          throw new UsageError(`--${flag} must be a σ > 0 or off, got "${v}"`);
        out.samplerOptions[name] = sigma;
      }
    } else if (name === 'snr') {
      out.scheduler.snr = positiveNumberOption(values, flag);
    } else if (name === 'sigmaMax') {
      out.scheduler.sigmaMax = positiveNumberOption(values, flag);
    } else {
      (out.samplerOptions as Record<string, unknown>)[name] = positiveNumberOption(values, flag);
    }
  }
  return out;
}

export interface OutputArgs {
  batchSize: number;
  seed: bigint;
  out: string;
  prefix: string;
  force: boolean;
  quiet: boolean;
}

export function parseOutputArgs(
  values: Record<string, unknown>,
  defaultPrefix: string,
  defaultOut = '.',
): OutputArgs {
  const prefix = (values.prefix as string | undefined) ?? defaultPrefix;
  if (prefix === '' || /[/\\]/.test(prefix) || prefix.startsWith('.'))
    throw new UsageError(`--prefix must be a plain file name part, got "${prefix}"`);
  return {
    batchSize: intOption(values, 'batch-size', 1, 1, MAX_BATCH_SIZE),
    seed: seedOption(values),
    out: (values.out as string | undefined) ?? defaultOut,
    prefix,
    force: values.force === true,
    quiet: values.quiet === true,
  };
}

/**
 * Refuses a batch that cannot fit in this machine's memory, before anything is allocated. The estimate is
 * rough: the UNet's skip activations (layers_per_block + 1 per level) plus eight of its largest activation,
 * in float32, per image.
 */
export function checkBatchFits(pipe: ScoreSdeVePipeline, batchSize: number, memoryBytes = totalmem()): void {
  const config = pipe.unet.config as Record<string, unknown>;
  const channels = (config.block_out_channels as number[] | undefined) ?? [];
  const layers = (config.layers_per_block as number | undefined) ?? 1;
  const [h, w] = pipe.sampleSize;
  let values = 0;
  let largest = 0;
  channels.forEach((c, level) => {
    const activation = c * Math.max(1, Math.floor(h / 2 ** level)) * Math.max(1, Math.floor(w / 2 ** level));
    values += (layers + 1) * activation;
    largest = Math.max(largest, activation);
  });
  const bytes = batchSize * 4 * (values + 8 * largest);
  if (bytes > memoryBytes) {
    const gb = (b: number) => (b / 2 ** 30).toFixed(1);
    throw new CliError(
      `--batch-size ${batchSize}: about ${gb(bytes)} GiB for this model, more than this machine's ${gb(memoryBytes)} GiB; use a smaller batch`,
    );
  }
}

/** The pipeline with --snr / --sigma-max / --corrector-steps applied to its scheduler and its own bar off. */
export function configurePipeline(
  pipe: ScoreSdeVePipeline,
  scheduler: SamplerFlags['scheduler'],
): ScoreSdeVePipeline {
  let out = pipe;
  if (
    scheduler.snr !== undefined ||
    scheduler.sigmaMax !== undefined ||
    scheduler.correctSteps !== undefined
  ) {
    const config: Record<string, unknown> = { ...pipe.scheduler.config };
    if (scheduler.snr !== undefined) config.snr = scheduler.snr;
    if (scheduler.sigmaMax !== undefined) config.sigma_max = scheduler.sigmaMax;
    if (scheduler.correctSteps !== undefined) config.correct_steps = scheduler.correctSteps;
    out = new ScoreSdeVePipeline({
      unet: pipe.unet,
      scheduler: ScoreSdeVeScheduler.fromConfig(config),
      gaussian: pipe.gaussian,
    });
  }
  // The CLI draws one bar for the whole run (see SamplingProgress).
  out.setProgressBarConfig({ disable: true });
  return out;
}

/** The bundled model's sampler options that `sampler` takes (churn only for heun; its safety nets for all). */
export function bundledModelOptions(sampler: SamplerName): Omit<SamplerOptions, 'shape'> {
  return Object.fromEntries(
    Object.entries(DEFAULT_MODEL.options).filter(([k]) =>
      SAMPLER_OPTION_TABLE[k as SamplerOptionName].samplers.includes(sampler),
    ),
  );
}

/**
 * What a run of `chooseSampling`'s choice does, in words, and its UNet calls per image (undefined: adaptive).
 * `scheduler`: the model's scheduler config, whose σ schedule decides which steps a Gaussian switch makes free.
 */
export async function describeSampling(
  choice: Pick<ReturnType<typeof chooseSampling>, 'sampler' | 'kind' | 'steps' | 'flags'>,
  scheduler: ScoreSdeVeSchedulerConfig,
): Promise<{ text: string; calls?: number }> {
  const { sampler, kind, steps, flags } = choice;
  const name = sampler === undefined ? "diffusers' loop (pc)" : kind;
  const options = Object.entries(flags.samplerOptions).map(([k, v]) => `, ${k} ${v}`);
  const text = `${name}${steps === undefined ? ', adaptive steps' : `, ${steps} steps`}${options.join('')}`;
  const correctSteps = flags.scheduler.correctSteps ?? scheduler.correct_steps;
  const calls =
    flags.samplerOptions.gaussianAbove === undefined
      ? networkCalls(kind, steps, correctSteps)
      : await networkCallsWith(kind, {
          ...schedulerSamplerSettings(scheduler),
          ...(flags.scheduler.sigmaMax !== undefined ? { sigmaMax: flags.scheduler.sigmaMax } : {}),
          correctSteps,
          steps,
          ...flags.samplerOptions,
        });
  return { text, calls };
}

/**
 * The sampler a run uses, its steps and its sampler flags: the flags; without --sampler (or with its own), the bundled model's own
 * choice (with its sampler options, which flags override) when --model is absent, else diffusers' loop (pc, 2000
 * steps). `sampler` is what the pipeline is passed (undefined = its default loop), `kind` what runs; `steps` is
 * undefined for the ode sampler.
 */
export function chooseSampling(
  values: Record<string, unknown>,
  named: SamplerName | undefined,
): { sampler: SamplerName | undefined; kind: SamplerName; steps: number | undefined; flags: SamplerFlags } {
  if (named !== undefined && !(SAMPLER_NAMES as readonly string[]).includes(named))
    throw new UsageError(`--sampler must be one of ${SAMPLER_NAMES.join(', ')}, got "${named}"`);
  // The bundled model's own settings: without --model, when no sampler or its own sampler is named. Its
  // sampler options apply to whichever sampler runs on it, as far as that sampler takes them.
  const bundled = values.model === undefined && (named === undefined || named === DEFAULT_MODEL.sampler);
  const sampler = named ?? (bundled ? DEFAULT_MODEL.sampler : undefined);
  const kind: SamplerName = sampler ?? 'pc'; // diffusers' loop is pc with diffusers' settings, bit for bit
  const defaults = values.model === undefined ? bundledModelOptions(kind) : {};
  const flags = parseSamplerFlags(values, sampler, defaults);
  const fallback = bundled ? DEFAULT_MODEL.steps : (SAMPLERS[kind].defaults as { steps?: number }).steps;
  return { sampler, kind, steps: kind === 'ode' ? undefined : (flags.steps ?? fallback), flags };
}
