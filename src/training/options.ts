/**
 * The options of `train()` and `scoresde train` (one set, camelCase here, kebab-case flags on the CLI), their
 * defaults, and the subset that decides the trajectory (saved with every checkpoint and checked on resume).
 */
import type { ImageDataset } from '../data/types.js';
import { ConfigError } from '../errors.js';
import type { ProgressStream } from '../progress.js';
import { OPTIMIZATION_DEFAULTS } from './optimization.js';

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
  /** Seeds the weights' initialisation, the shuffling, the flips and all noise (default 0). */
  seed?: number;
  /** Random horizontal flips of training images (default false). */
  flip?: boolean;
  /** Skip unreadable image files (counted) instead of failing (default false). */
  skipUnreadable?: boolean;
  /** Write the pipeline folder and training state every this many steps (default 1000), and at the end. */
  checkpointEvery?: number;
  /** Write samples/step-<k>.png every this many steps (default 0: never). */
  sampleEvery?: number;
  /** Images in each sample grid (default 16) and sampler steps (DPM-Solver++(2M), default 25). */
  sampleCount?: number;
  sampleSteps?: number;
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
  /** Called after every step. */
  onStep?: (info: TrainStep) => void;
  /** Called after each checkpoint with the step it holds. */
  onCheckpoint?: (step: number) => void;
  /** Called with each sample grid's path. */
  onSample?: (step: number, path: string) => void;
  /** Non-fatal news (skipped image files); default `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** Where to draw a progress bar (none when absent). */
  progressStream?: ProgressStream;
  /** Stops after the current step: the run checkpoints and returns with `interrupted: true`. */
  signal?: AbortSignal;
}

export const TRAIN_DEFAULTS = Object.freeze({
  batchSize: 16,
  lr: OPTIMIZATION_DEFAULTS.lr,
  warmup: OPTIMIZATION_DEFAULTS.warmup,
  emaDecay: OPTIMIZATION_DEFAULTS.emaDecay,
  gradClip: OPTIMIZATION_DEFAULTS.gradClip,
  sigmaMin: 0.01,
  sigmaMax: 50,
  seed: 0,
  flip: false,
  checkpointEvery: 1000,
  sampleEvery: 0,
  sampleCount: 16,
  sampleSteps: 25,
});

/** The options that decide the trajectory: a resumed run must have the same. */
export interface TrajectoryOptions {
  batchSize: number;
  lr: number;
  warmup: number;
  emaDecay: number;
  gradClip: number | null;
  sigmaMin: number;
  sigmaMax: number;
  seed: number;
  flip: boolean;
}

export const TRAJECTORY_KEYS = Object.freeze([
  'batchSize',
  'lr',
  'warmup',
  'emaDecay',
  'gradClip',
  'sigmaMin',
  'sigmaMax',
  'seed',
  'flip',
] as const satisfies readonly (keyof TrajectoryOptions)[]);

const int = (name: string, v: unknown, min: number): number => {
  if (!Number.isSafeInteger(v) || (v as number) < min)
    throw new ConfigError(`train: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v as number;
};
const positive = (name: string, v: unknown): number => {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))
    throw new ConfigError(`train: ${name} must be a finite number > 0, got ${v}`);
  return v;
};

/** Checks the numeric options given and returns the trajectory options with defaults (σ range left open). */
export function checkNumericOptions(o: TrainOptions): Omit<TrajectoryOptions, 'sigmaMin' | 'sigmaMax'> & {
  sigmaMin?: number;
  sigmaMax?: number;
} {
  if (typeof o !== 'object' || o === null) throw new ConfigError('train: options must be an object');
  if (typeof o.out !== 'string' || o.out === '') throw new ConfigError('train: out must be a folder path');
  if (o.steps !== undefined || !o.resume) int('steps', o.steps, 1);
  const d = TRAIN_DEFAULTS;
  const emaDecay = o.emaDecay ?? d.emaDecay;
  if (typeof emaDecay !== 'number' || !(emaDecay >= 0 && emaDecay < 1))
    throw new ConfigError(`train: emaDecay must be in [0, 1), got ${emaDecay}`);
  const gradClip =
    o.gradClip === undefined ? d.gradClip : o.gradClip === null ? null : positive('gradClip', o.gradClip);
  const lr = o.lr === undefined ? d.lr : positive('lr', o.lr);
  if (o.sigmaMin !== undefined) positive('sigmaMin', o.sigmaMin);
  if (o.sigmaMax !== undefined) positive('sigmaMax', o.sigmaMax);
  if (o.sigmaMin !== undefined && o.sigmaMax !== undefined && !(o.sigmaMin < o.sigmaMax))
    throw new ConfigError(`train: sigmaMin (${o.sigmaMin}) must be below sigmaMax (${o.sigmaMax})`);
  for (const k of ['checkpointEvery', 'sampleEvery'] as const) if (o[k] !== undefined) int(k, o[k], 0);
  for (const k of ['sampleCount', 'sampleSteps'] as const) if (o[k] !== undefined) int(k, o[k], 1);
  if (o.intraOpThreads !== undefined) int('intraOpThreads', o.intraOpThreads, 1);
  return {
    batchSize: o.batchSize === undefined ? d.batchSize : int('batchSize', o.batchSize, 1),
    lr,
    warmup: o.warmup === undefined ? d.warmup : int('warmup', o.warmup, 0),
    emaDecay,
    gradClip,
    sigmaMin: o.sigmaMin,
    sigmaMax: o.sigmaMax,
    seed: o.seed === undefined ? d.seed : int('seed', o.seed, 0),
    flip: o.flip ?? d.flip,
  };
}
