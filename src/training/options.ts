/**
 * The options of `train()` and `scoresde train` (one set, camelCase here, kebab-case flags on the CLI): one
 * table of defaults and checks, the subset that decides the trajectory (saved with every checkpoint and
 * checked on resume), and the one place they are resolved.
 */
import type { ImageDataset } from '../data/types.js';
import type { PerSigmaReport } from '../diagnostics/per-sigma.js';
import { ConfigError, OptionError } from '../errors.js';
import type { ConvPathOption } from '../onnx/session.js';
import type { ProgressStream } from '../progress.js';
import { DEFAULT_SIGMA_MAX, DEFAULT_SIGMA_MIN } from './noise.js';
import { OPTIMIZATION_DEFAULTS } from './optimization.js';
import { DEFAULT_SIGMA_SAMPLING, parseSigmaSampling } from './sigma-sampling.js';

/** Reported after every optimisation step. */
export interface TrainStep {
  /** Steps completed, 1-based (the step just taken). */
  step: number;
  /** The run's total steps. */
  totalSteps: number;
  /** The batch's DSM loss (score_sde's: batch mean of ½ Σ (σ·score + z)²). */
  loss: number;
  /** Its smoothed value (bias-corrected exponential moving average, 0.9), as the progress bar shows. */
  smoothedLoss: number;
  /** The learning rate this step used. */
  lr: number;
  /** Global gradient 2-norm before clipping. */
  gradNorm: number;
  /** Wall-clock seconds of this step. */
  seconds: number;
}

/** Reported once before the first step. */
export interface TrainStart {
  /** The checkpoint's step when resumed, else 0. */
  startStep: number;
  totalSteps: number;
  resumed: boolean;
  /** The cadence in force (a resumed run's saved one unless options gave another). */
  cadence: OutputCadence;
  /** Values per training image (C·H·W): the loss sums over them, so a score of 0 gives a loss of about D/2. */
  dims: number;
}

export interface TrainOptions {
  /**
   * The model to train: a preset name (see TRAINING_PRESETS), a path to a UNet2DModel config.json, or the
   * config itself. Starts from random weights. Not with `initFrom`; taken from the checkpoint with `resume`.
   */
  config?: string | Record<string, unknown>;
  /** Fine-tune a diffusers checkpoint instead: a model folder or a Hub repo id. */
  initFrom?: string;
  /** Training images: a folder of PNG/JPEG images, an IDX file (MNIST family), or an opened ImageDataset. */
  data?: string | ImageDataset;
  /** Output folder: the pipeline folder, training_state/, samples/ and train_log.jsonl. */
  out: string;
  /** Total optimisation steps (a resumed run continues up to this; default there: the run's own total). */
  steps?: number;
  /** Images per step (default 16). */
  batchSize?: number;
  /** Peak learning rate (default 2e-4, score_sde's). */
  lr?: number;
  /** Linear warmup steps (default 5000); 0 for none. */
  warmup?: number;
  /** EMA decay of the published weights (default 0.999). */
  emaDecay?: number;
  /** Largest global gradient norm (default 1); null for no clipping. */
  gradClip?: number | null;
  /** VE noise range (default: the fine-tuned model's scheduler, the preset's, else 0.01 and 50). */
  sigmaMin?: number;
  sigmaMax?: number;
  /**
   * How σ is drawn for each row (default 'log-uniform', score_sde's; see sigma-sampling.ts): 'edm' for EDM's
   * allocation, 'log-normal:MEAN,STD', or a mix such as '0.5*log-uniform+0.5*log-normal:2.3,1'. Runs saved
   * before this option resume with the default.
   */
  sigmaSampling?: string;
  /**
   * Stable Target Field (stable-target.ts): regress on the posterior mean over a reference batch of this many
   * images (the training batch plus draws from the data set; at least batchSize) instead of the row's own
   * image, which cuts the target's noise at large σ. Default 0: plain denoising score matching, score_sde's.
   */
  referenceBatch?: number;
  /** Seeds the weights' initialisation, the shuffling, the flips and all noise (default 0). */
  seed?: number;
  /** Random horizontal flips of training images (default false). */
  flip?: boolean;
  /** Skip unreadable image files (counted) instead of failing (default false). */
  skipUnreadable?: boolean;
  /**
   * Write the pipeline folder and training state every this many steps (default 1000), and at the end.
   * This and the three sample options are saved with the run: a resumed run keeps them unless given.
   */
  checkpointEvery?: number;
  /** Write samples/step-<k>.png every this many steps (default 0: never). */
  sampleEvery?: number;
  /** Images in each sample grid (default 16) and sampler steps (DPM-Solver++(2M), default 25). */
  sampleCount?: number;
  sampleSteps?: number;
  /**
   * Log the per-σ denoiser table of the EMA weights (against the training data's Gaussian denoiser) every
   * this many steps (default 0: never); see diagnose.ts.
   */
  diagnoseEvery?: number;
  /** Held-out images for it (default: the test split beside IDX training files, else the first training images). */
  diagnoseData?: string;
  /** Continue the run in `out` from its last checkpoint, bit for bit. */
  resume?: boolean;
  /** Hub options for `initFrom`. */
  cacheDir?: string;
  revision?: string;
  localFilesOnly?: boolean;
  /** onnxruntime intra-op threads (default: all cores). */
  intraOpThreads?: number;
  /** Bytes the run may use (default: the machine's memory); a larger estimate is refused before the run. */
  maxMemory?: number;
  /** Called once before the first step, after every check passed and everything loaded. */
  onStart?: (info: TrainStart) => void;
  /**
   * The step graph's convolution kernels (DsmGraphOptions.convPath): 'auto' (default), 'blocked' or 'standard'.
   * The paths differ by float32 rounding (gradients ~2e-7 apart), so a resumed run continues bit for bit on the
   * path it ran on ('auto' picks the same one on the same machine). Not part of the saved trajectory: a resumed
   * run takes whatever is given here.
   */
  convPath?: ConvPathOption;
  /** Called after every step. */
  onStep?: (info: TrainStep) => void;
  /** Called after each checkpoint with the step it holds. */
  onCheckpoint?: (step: number) => void;
  /** Called with each sample grid's path. */
  onSample?: (step: number, path: string) => void;
  /** Called with each per-σ denoiser table (diagnoseEvery). */
  onDiagnostic?: (step: number, report: PerSigmaReport) => void;
  /** Non-fatal news (skipped image files, a warmup longer than the run); default `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** Where to draw a progress bar (none when absent). */
  progressStream?: ProgressStream;
  /** Stops after the current step: the run checkpoints and returns with `interrupted: true`. */
  signal?: AbortSignal;
}

/**
 * What values an option takes: an integer ≥ min, a finite number > 0 (`positive`, with `orNull` also null),
 * a number in [0, 1) (`fraction`), or true / false.
 */
export type OptionValue =
  | { kind: 'integer'; min: number }
  | { kind: 'positive'; orNull?: true }
  | { kind: 'fraction' }
  | { kind: 'boolean' }
  | { kind: 'sigma-sampling' };

/** One option's row: the values it takes and its default. */
interface OptionRow<T> {
  value: OptionValue;
  /** The value when the option is not given (undefined: there is none, e.g. `steps`). */
  default: T;
  /** Decides the trajectory: saved with every checkpoint, and a resumed run must keep it. */
  trajectory?: true;
}

const integer = (min: number): OptionValue => ({ kind: 'integer', min });
const positive: OptionValue = { kind: 'positive' };

/**
 * The numeric and boolean options of `train()`, one row each. A new option is one row here (plus its doc
 * comment in TrainOptions and, for the CLI, a row in cli/train.ts).
 */
export const TRAIN_OPTION_TABLE = Object.freeze({
  steps: { value: integer(1), default: undefined as number | undefined },
  batchSize: { value: integer(1), default: 16, trajectory: true },
  lr: { value: positive, default: OPTIMIZATION_DEFAULTS.lr, trajectory: true },
  warmup: { value: integer(0), default: OPTIMIZATION_DEFAULTS.warmup, trajectory: true },
  emaDecay: { value: { kind: 'fraction' }, default: OPTIMIZATION_DEFAULTS.emaDecay, trajectory: true },
  gradClip: {
    value: { kind: 'positive', orNull: true },
    default: OPTIMIZATION_DEFAULTS.gradClip,
    trajectory: true,
  },
  sigmaMin: { value: positive, default: DEFAULT_SIGMA_MIN, trajectory: true },
  sigmaMax: { value: positive, default: DEFAULT_SIGMA_MAX, trajectory: true },
  // Added after runs were saved without it: their resume takes the default, which is what they used.
  sigmaSampling: {
    value: { kind: 'sigma-sampling' },
    default: DEFAULT_SIGMA_SAMPLING as string,
    trajectory: true,
  },
  // Added after runs were saved without it, as sigmaSampling.
  referenceBatch: { value: integer(0), default: 0, trajectory: true },
  seed: { value: integer(0), default: 0, trajectory: true },
  flip: { value: { kind: 'boolean' }, default: false, trajectory: true },
  checkpointEvery: { value: integer(0), default: 1000 },
  sampleEvery: { value: integer(0), default: 0 },
  sampleCount: { value: integer(1), default: 16 },
  sampleSteps: { value: integer(1), default: 25 },
  diagnoseEvery: { value: integer(0), default: 0 },
  intraOpThreads: { value: integer(1), default: undefined as number | undefined },
} satisfies Record<string, OptionRow<unknown>>);

/** What is wrong with `v` as a value of `value`, as a message ends ("must be …"); undefined when nothing. */
export function valueProblem(value: OptionValue, v: unknown): string | undefined {
  switch (value.kind) {
    case 'integer':
      return Number.isSafeInteger(v) && (v as number) >= value.min
        ? undefined
        : `must be an integer ≥ ${value.min}`;
    case 'positive':
      if (v === null && value.orNull) return undefined;
      return typeof v === 'number' && v > 0 && Number.isFinite(v) ? undefined : 'must be a number > 0';
    case 'fraction':
      return typeof v === 'number' && v >= 0 && v < 1 ? undefined : 'must be a number in [0, 1)';
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'must be true or false';
    case 'sigma-sampling':
      try {
        parseSigmaSampling(v as string);
        return undefined;
      } catch (e) {
        return `is not an allocation (${(e as Error).message.replace(/^train: sigmaSampling /, '')})`;
      }
  }
}

type Table = typeof TRAIN_OPTION_TABLE;

/** Every option of the table with its value: given, else the run's own, else the default. */
export type ResolvedTrainOptions = { -readonly [K in keyof Table]: Table[K]['default'] };

/** The defaults of the table (steps and intraOpThreads have none). */
export const TRAIN_DEFAULTS: Readonly<ResolvedTrainOptions> = Object.freeze(
  Object.fromEntries(Object.entries(TRAIN_OPTION_TABLE).map(([k, row]) => [k, row.default])),
) as ResolvedTrainOptions;

/** The options that decide the trajectory: a resumed run must have the same. */
export type TrajectoryOptions = { [K in TrajectoryKey]: NonNullable<ResolvedTrainOptions[K]> };
type TrajectoryKey = {
  [K in keyof Table]: Table[K] extends { trajectory: true } ? K : never;
}[keyof Table];

export const TRAJECTORY_KEYS: readonly TrajectoryKey[] = Object.freeze(
  (Object.keys(TRAIN_OPTION_TABLE) as (keyof Table)[]).filter(
    (k): k is TrajectoryKey => (TRAIN_OPTION_TABLE[k] as OptionRow<unknown>).trajectory === true,
  ),
);

/** The options of the run being resumed, as its checkpoint saved them. */
export type SavedTrainOptions = TrajectoryOptions & {
  totalSteps?: number;
  schedulerBase?: Record<string, unknown>;
  cadence?: Partial<OutputCadence>;
};

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function checkSigmaRange(sigmaMin: number, sigmaMax: number): void {
  if (!(sigmaMin < sigmaMax))
    throw new OptionError(
      (n) => `train: ${n('sigmaMin')} (${sigmaMin}) must be below ${n('sigmaMax')} (${sigmaMax})`,
    );
}

/**
 * How often a run writes its checkpoints, sample grids and per-σ tables: saved with every checkpoint (as
 * `options.cadence`) so that `--resume` without these flags keeps the run's own (a flag given on resume
 * replaces the saved value). They do not decide the trajectory.
 */
export interface OutputCadence {
  checkpointEvery: number;
  sampleEvery: number;
  sampleCount: number;
  sampleSteps: number;
  diagnoseEvery: number;
}

export const OUTPUT_CADENCE_KEYS = Object.freeze([
  'checkpointEvery',
  'sampleEvery',
  'sampleCount',
  'sampleSteps',
  'diagnoseEvery',
] as const satisfies readonly (keyof OutputCadence)[]);

/** The cadence part of resolved options (what a checkpoint saves besides the trajectory). */
export function cadenceOf(options: ResolvedTrainOptions): OutputCadence {
  return Object.fromEntries(OUTPUT_CADENCE_KEYS.map((k) => [k, options[k]])) as unknown as OutputCadence;
}

/** Checks the options given, before anything loads: each against its row, and the ones that go together. */
export function checkTrainOptions(o: TrainOptions): void {
  if (typeof o !== 'object' || o === null) throw new ConfigError('train: options must be an object');
  if (o.out === undefined) throw new OptionError((n) => `train: ${n('out')} is required`);
  if (typeof o.out !== 'string' || o.out === '')
    throw new OptionError((n) => `train: ${n('out')} must be a folder path`);
  if (o.steps === undefined && !o.resume) throw new OptionError((n) => `train: ${n('steps')} is required`);
  for (const [key, row] of Object.entries(TRAIN_OPTION_TABLE)) {
    const v = (o as unknown as Record<string, unknown>)[key];
    const problem = v === undefined ? undefined : valueProblem(row.value, v);
    if (problem) throw new OptionError((n) => `train: ${n(key)} ${problem}, got ${v}`);
  }
  if (o.sigmaMin !== undefined && o.sigmaMax !== undefined) checkSigmaRange(o.sigmaMin, o.sigmaMax);
  if (o.convPath !== undefined && !['auto', 'standard', 'blocked'].includes(o.convPath))
    throw new OptionError(
      (n) => `train: ${n('convPath')} must be auto, blocked or standard, got ${String(o.convPath)}`,
    );
  if (o.resume && o.initFrom !== undefined)
    throw new OptionError(
      (n) =>
        `${n('initFrom')} starts a new run; ${n('resume')} continues the one in ${n('out')} (give one of them)`,
    );
  if (!o.resume && o.config !== undefined && o.initFrom !== undefined)
    throw new OptionError(
      (n) => `give ${n('config')} (train from scratch) or ${n('initFrom')} (fine-tune), not both`,
    );
}

/**
 * Every option's value, resolved once: given, else `fallback`'s (the model's σ range for a new run), else
 * the table's default. A resumed run passes its saved options as the fallback, after checkResumedOptions.
 */
export function resolveTrainOptions(
  o: TrainOptions,
  fallback: Partial<ResolvedTrainOptions> = {},
): ResolvedTrainOptions {
  const given = o as unknown as Record<string, unknown>;
  const saved = fallback as Record<string, unknown>;
  // Only undefined is absent: `gradClip: null` is a value (no clipping), given or saved.
  const resolved = Object.fromEntries(
    Object.entries(TRAIN_OPTION_TABLE).map(([k, row]) => [
      k,
      given[k] !== undefined ? given[k] : saved[k] !== undefined ? saved[k] : row.default,
    ]),
  ) as ResolvedTrainOptions;
  checkSigmaRange(resolved.sigmaMin, resolved.sigmaMax);
  const { referenceBatch, batchSize } = resolved;
  if (referenceBatch > 0 && referenceBatch < batchSize)
    throw new OptionError(
      (n) =>
        `train: ${n('referenceBatch')} (${referenceBatch}) must be 0 or at least ${n('batchSize')} (${batchSize}): the reference batch holds the training batch`,
    );
  return resolved;
}

/** A resumed run keeps its trajectory: each option given must equal the saved one. */
export function checkResumedOptions(o: TrainOptions, saved: SavedTrainOptions): void {
  for (const key of TRAJECTORY_KEYS) {
    const explicit = o[key];
    // An option added after the run was saved: the run used its default.
    const kept = saved[key] ?? TRAIN_OPTION_TABLE[key].default;
    if (explicit !== undefined && !sameJson(explicit, kept)) {
      throw new OptionError(
        (n) =>
          `${n(key)} ${JSON.stringify(explicit)} differs from the resumed run's ${JSON.stringify(kept)}; a resumed run keeps its settings (fine-tune with ${n('initFrom')} instead)`,
      );
    }
  }
}

/** The trajectory part of resolved options (what a checkpoint saves). */
export function trajectoryOf(options: ResolvedTrainOptions): TrajectoryOptions {
  return Object.fromEntries(TRAJECTORY_KEYS.map((k) => [k, options[k]])) as TrajectoryOptions;
}
