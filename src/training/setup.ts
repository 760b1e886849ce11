/**
 * Everything `train()` checks and loads before the first step, so that mistakes surface in seconds rather
 * than after an hour: the output folder (writable, not already holding another run), the model (preset,
 * config file, a checkpoint to fine-tune, or the run being resumed), the data (opens, fits the model,
 * not empty) and, on resume, that the saved state matches the options given.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { DataLoader, type DataLoaderState } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';
import { ConfigError, OptionError } from '../errors.js';
import { readJsonConfig } from '../io/config.js';
import {
  configToJson,
  randomStateDict,
  resolveUnetConfig,
  type UNet2DConfig,
  UNet2DModel,
} from '../models/unet-2d/index.js';
import { unetFootprint } from '../models/unet-2d/memory-estimate.js';
import { resolvePipelineSource } from '../pipelines/load.js';
import { Generator, type GeneratorState } from '../random/index.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import { openTrainingData } from './dataset.js';
import { checkTrainingMemory } from './memory-estimate.js';
import { ScoreSdeOptimizer } from './optimization.js';
import {
  checkResumedOptions,
  checkTrainOptions,
  type ResolvedTrainOptions,
  resolveTrainOptions,
  type SavedTrainOptions,
  type TrainOptions,
} from './options.js';
import { TRAINING_PRESETS } from './presets.js';
import { loadTrainingState, STATE_DIR, type TrainingState, trainingStateStep } from './training-state.js';
import { checkParamsMatchModel } from './training-state-checks.js';

export interface TrainingSetup {
  outDir: string;
  /** The UNet config in config.json form (what checkpoints write). */
  unetConfig: Record<string, unknown>;
  cfg: UNet2DConfig;
  /** [height, width] of the training images. */
  size: [number, number];
  /** The full state dict of raw weights (updated in place) and its shapes. */
  params: Map<string, Float32Array>;
  shapes: Map<string, readonly number[]>;
  /** The trained keys, in the optimiser's order. */
  trainedKeys: string[];
  optimizer: ScoreSdeOptimizer;
  generator: Generator;
  loader: DataLoader;
  dataset: ImageDataset;
  /** Every option, resolved (given, else the run's own, else the default). */
  options: ResolvedTrainOptions;
  /** Scheduler config to publish (the fine-tuned model's), before the σ range is set. */
  schedulerBase?: Record<string, unknown>;
  /** Steps already done (0 for a new run). */
  startStep: number;
  /** Where the run stops. */
  totalSteps: number;
}

/** Keys the optimiser trains: all but the fourier projection, which diffusers creates with requires_grad=False. */
export function trainedKeysOf(cfg: UNet2DConfig, keys: Iterable<string>): string[] {
  return [...keys].filter((k) => !(cfg.time_embedding_type === 'fourier' && k === 'time_proj.weight'));
}

/**
 * Fails with the reason when `dir` cannot be created or written (probed with a temp file). Returns the
 * first folder it created (undefined when `dir` existed), for `removeCreated` if a later check fails.
 */
async function probeWritable(dir: string): Promise<string | undefined> {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new OptionError((n) => `${dir}: is a file; ${n('out')} must be a folder`);
  const probe = join(dir, `.scoresde-probe-${randomBytes(4).toString('hex')}`);
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true });
    await writeFile(probe, 'probe');
  } catch (e) {
    throw new ConfigError(
      `${dir}: cannot write the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  } finally {
    await rm(probe, { force: true });
  }
  return created;
}

/** Removes the (still empty) folders from `dir` up to `created`, the first one probeWritable made. */
async function removeCreated(dir: string, created: string): Promise<void> {
  for (let d = dir; d.startsWith(created); d = dirname(d)) {
    // rmdir refuses a folder that is not empty: anything else put there stays.
    if (
      !(await rmdir(d).then(
        () => true,
        () => false,
      )) ||
      d === created
    )
      break;
  }
}

/** A model's own σ range (a preset's, a fine-tuned checkpoint's scheduler), where it has one. */
type SigmaRange = Partial<Pick<ResolvedTrainOptions, 'sigmaMin' | 'sigmaMax'>>;

/** A config given as a preset name, a config.json path or an object, with the preset's σ range if any. */
async function readConfigOption(
  config: string | Record<string, unknown>,
): Promise<{ raw: Record<string, unknown>; sigma?: SigmaRange }> {
  if (typeof config !== 'string') return { raw: config };
  const preset = TRAINING_PRESETS[config];
  if (preset) return { raw: preset.config, sigma: { sigmaMin: preset.sigmaMin, sigmaMax: preset.sigmaMax } };
  if (existsSync(config)) return { raw: await readJsonConfig(config) };
  throw new OptionError(
    (n) =>
      `${n('config')} "${config}" is neither a preset (${Object.keys(TRAINING_PRESETS).join(', ')}) nor an existing config.json`,
  );
}

/** Architectural limits of training, checked before anything is built. */
function checkTrainable(cfg: UNet2DConfig): [number, number] {
  const ss = cfg.sample_size;
  if (ss === null)
    throw new ConfigError('UNet2DModel config: sample_size is null; training needs the image size');
  // resolveUnetConfig has already checked that the size suits the block count.
  const [h, w] = typeof ss === 'number' ? [ss, ss] : ss;
  if (cfg.in_channels !== 1 && cfg.in_channels !== 3)
    throw new ConfigError(
      `UNet2DModel config: in_channels is ${cfg.in_channels}; training images have 1 (grey) or 3 (RGB) channels`,
    );
  const skip = [...cfg.down_block_types, ...cfg.up_block_types].filter((t) => t.includes('Skip'));
  if (skip.length > 0 && cfg.in_channels !== 3) {
    throw new ConfigError(
      `UNet2DModel config: ${skip[0]} hard-codes 3 image channels (diffusers), but in_channels is ${cfg.in_channels}; use the plain blocks (DownBlock2D, AttnDownBlock2D, …) for ${cfg.in_channels} channel(s)`,
    );
  }
  if (cfg.in_channels !== cfg.out_channels) {
    throw new ConfigError(
      `UNet2DModel config: a score model needs out_channels = in_channels (${cfg.in_channels}), got ${cfg.out_channels}`,
    );
  }
  if (cfg.class_embed_type !== null || cfg.num_class_embeds !== null) {
    throw new ConfigError('UNet2DModel config: class-conditional models are not supported for training yet');
  }
  return [h, w];
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Checks the options, loads or creates everything a run needs; nothing is trained yet. */
export async function setupTraining(o: TrainOptions): Promise<TrainingSetup> {
  checkTrainOptions(o);
  const outDir = resolve(o.out);
  const created = await probeWritable(outDir);
  try {
    return await (o.resume ? resumeSetup(o, outDir) : newRunSetup(o, outDir));
  } catch (e) {
    // A run that fails its checks leaves no empty --out folder behind.
    if (created !== undefined) await removeCreated(outDir, created);
    throw e;
  }
}

/** The model a new run starts from, before its options are resolved. */
interface StartingModel {
  cfg: UNet2DConfig;
  /** The weights to fine-tune (absent: random initial weights, drawn once the seed is known). */
  weights?: { params: Map<string, Float32Array>; shapes: Map<string, readonly number[]> };
  schedulerBase?: Record<string, unknown>;
  sigma?: SigmaRange;
}

/** `initFrom`: a diffusers checkpoint's UNet weights, its scheduler config and σ range. */
async function pretrainedModel(o: TrainOptions, source: string): Promise<StartingModel> {
  const layout = await resolvePipelineSource(source, {
    cacheDir: o.cacheDir,
    revision: o.revision,
    localFilesOnly: o.localFilesOnly,
    progressStream: o.progressStream,
    progress: o.progressStream !== undefined,
    signal: o.signal,
  });
  const unet = await UNet2DModel.fromPretrained(layout.dir, { subfolder: layout.unetSubfolder });
  const params = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of unet.stateDict()) {
    if (k === 'time_proj.W') continue; // the same parameter as time_proj.weight
    params.set(k, Float32Array.from(t.data));
    shapes.set(k, t.dims);
  }
  const model: StartingModel = {
    cfg: structuredClone(unet.config) as UNet2DConfig,
    weights: { params, shapes },
  };
  if (layout.hasSchedulerConfig) {
    const s = await ScoreSdeVeScheduler.fromPretrained(layout.dir, { subfolder: layout.schedulerSubfolder });
    model.schedulerBase = { ...s.config };
    model.sigma = { sigmaMin: s.config.sigma_min, sigmaMax: s.config.sigma_max };
  }
  return model;
}

/** Random initial weights of `cfg` from `seed` (diffusers' initialisation, torch's generator). */
function randomWeights(cfg: UNet2DConfig, seed: number): NonNullable<StartingModel['weights']> {
  const params = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of randomStateDict(cfg, seed % 2 ** 32)) {
    params.set(k, t.data);
    shapes.set(k, t.dims);
  }
  return { params, shapes };
}

/** The optimiser, generator and loader of a run over `dataset`, as the resolved options say. */
function optimiserAndLoader(
  options: ResolvedTrainOptions,
  trained: readonly Float32Array[],
  dataset: ImageDataset,
): Pick<TrainingSetup, 'optimizer' | 'generator' | 'loader'> {
  const optimizer = new ScoreSdeOptimizer(trained, {
    lr: options.lr,
    warmup: options.warmup,
    gradClip: options.gradClip,
    emaDecay: options.emaDecay,
  });
  const generator = new Generator().manualSeed(options.seed);
  const loader = new DataLoader(dataset, { batchSize: options.batchSize, generator, flip: options.flip });
  return { optimizer, generator, loader };
}

/** A new run's model: --init-from's checkpoint, else --config's preset or config.json (random weights). */
async function startingModel(o: TrainOptions): Promise<StartingModel> {
  if (o.initFrom !== undefined) return pretrainedModel(o, o.initFrom);
  if (o.config === undefined)
    throw new OptionError(
      (n) => `${n('config')} is required (a preset name or a config.json), or ${n('initFrom')}`,
    );
  const read = await readConfigOption(o.config);
  const config = o.config;
  // a config file's problem names the file, in the CLI's words
  const named = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ConfigError) || typeof config !== 'string' || TRAINING_PRESETS[config]) throw e;
      throw new ConfigError(`--config ${config}: ${e.message}`);
    }
  };
  const cfg = named(() => resolveUnetConfig(read.raw));
  named(() => checkTrainable(cfg));
  return { cfg, sigma: read.sigma };
}

async function newRunSetup(o: TrainOptions, outDir: string): Promise<TrainingSetup> {
  const existing = await trainingStateStep(outDir);
  if (existing !== undefined) {
    throw new OptionError(
      (n) =>
        `${outDir} already holds a training run (checkpoint at step ${existing}); pass ${n('resume')} to continue it, or choose another ${n('out')}`,
    );
  }
  if (o.data === undefined)
    throw new OptionError((n) => `${n('data')} is required (a folder of images or an IDX file)`);
  const model = await startingModel(o);
  const { cfg } = model;
  const size = checkTrainable(cfg);
  const options = resolveTrainOptions(o, model.sigma);
  checkTrainingMemory(cfg, size, options.batchSize, o.maxMemory); // before the weights of a new model
  const dataset = await openTrainingData(
    o.data,
    { channels: cfg.in_channels, height: size[0], width: size[1] },
    o,
  );
  const { params, shapes } = model.weights ?? randomWeights(cfg, options.seed);
  const trainedKeys = trainedKeysOf(cfg, params.keys());
  return {
    outDir,
    unetConfig: configToJson(cfg),
    cfg,
    size,
    params,
    shapes,
    trainedKeys,
    ...optimiserAndLoader(
      options,
      trainedKeys.map((k) => params.get(k)!),
      dataset,
    ),
    dataset,
    options,
    schedulerBase: model.schedulerBase,
    startStep: 0,
    totalSteps: options.steps!,
  };
}

/** The checkpoint in `outDir`, or a ConfigError saying there is none. */
async function resumableState(outDir: string): Promise<TrainingState> {
  try {
    return await loadTrainingState(outDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ConfigError(
        `${outDir} holds no training checkpoint to resume (no training_state/manifest.json)`,
      );
    throw e;
  }
}

/** The checkpoint of the run in `outDir`, checked: its model, its options, its weights' shapes, --config. */
async function checkedCheckpoint(o: TrainOptions, outDir: string) {
  const state = await resumableState(outDir);
  const { info } = state;
  const saved = info.options as unknown as SavedTrainOptions;
  const stateDir = join(outDir, STATE_DIR);
  // what a hand edit of the state could make wrong: named as the checkpoint's fault, not the user's flags
  const fromState = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      const m = e instanceof OptionError ? e.render((k) => k) : (e as Error).message;
      throw new ConfigError(`${stateDir}: the checkpoint holds an invalid value (${m})`);
    }
  };
  const cfg = fromState(() => resolveUnetConfig(info.unetConfig));
  const size = fromState(() => checkTrainable(cfg));
  fromState(() =>
    checkTrainOptions({ ...saved, ...saved.cadence, out: outDir, resume: true } as TrainOptions),
  );
  checkParamsMatchModel(state.shapes, unetFootprint(cfg, size[0], size[1]).shapes, stateDir);
  if (o.config !== undefined) {
    const read = await readConfigOption(o.config);
    if (!sameJson(configToJson(resolveUnetConfig(read.raw)), configToJson(cfg)))
      throw new OptionError(
        (n) => `${n('config')} differs from the model of the run being resumed in ${outDir}`,
      );
  }
  return { state, info, saved, cfg, size, fromState };
}

async function resumeSetup(o: TrainOptions, outDir: string): Promise<TrainingSetup> {
  const { state, info, saved, cfg, size, fromState } = await checkedCheckpoint(o, outDir);
  checkResumedOptions(o, saved);
  // Checkpoints written before the cadence was saved have none: those runs take the defaults.
  const options = resolveTrainOptions(o, {
    ...saved,
    ...saved.cadence,
    steps: saved.totalSteps ?? info.step,
  });
  const totalSteps = options.steps!;
  checkTrainingMemory(cfg, size, options.batchSize, o.maxMemory);
  if (totalSteps < info.step)
    throw new OptionError((n) => `${n('steps')} ${totalSteps} is below the checkpoint's step ${info.step}`);
  const dataset = await openTrainingData(
    o.data ?? info.data.source,
    { channels: cfg.in_channels, height: size[0], width: size[1] },
    o,
  );
  if (dataset.length !== info.data.length) {
    throw new ConfigError(
      `${dataset.source}: has ${dataset.length} images, the resumed run trained on ${info.data.length} (${info.data.source})`,
    );
  }
  const expectedKeys = trainedKeysOf(cfg, state.params.keys()).sort();
  if (!sameJson(expectedKeys, [...info.trainedKeys].sort()))
    throw new ConfigError(`${outDir}: the checkpoint's trained parameters do not match its model`);
  const trainedKeys = info.trainedKeys;
  const pick = (m: Map<string, Float32Array>) => trainedKeys.map((k) => m.get(k)!);
  const loop = optimiserAndLoader(options, pick(state.params), dataset);
  loop.optimizer.restore({
    adamSteps: info.adamSteps,
    emaUpdates: info.emaUpdates,
    expAvg: pick(state.adamM),
    expAvgSq: pick(state.adamV),
    ema: pick(state.ema),
  });
  fromState(() => loop.generator.setState(info.generator as GeneratorState));
  fromState(() => loop.loader.restore(info.loader as DataLoaderState));
  return {
    outDir,
    unetConfig: configToJson(cfg),
    cfg,
    size,
    params: state.params,
    shapes: state.shapes,
    trainedKeys,
    ...loop,
    dataset,
    options,
    schedulerBase: saved.schedulerBase,
    startStep: info.step,
    totalSteps,
  };
}
