/**
 * Everything `train()` checks and loads before the first step, so that mistakes surface in seconds rather
 * than after an hour: the output folder (writable, not already holding another run), the model (preset,
 * config file, a checkpoint to fine-tune, or the run being resumed), the data (opens, fits the model,
 * not empty) and, on resume, that the saved state matches the options given.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DataLoader, type DataLoaderState } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';
import { ConfigError } from '../errors.js';
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
  checkNumericOptions,
  TRAJECTORY_KEYS,
  type TrainOptions,
  type TrajectoryOptions,
} from './options.js';
import { TRAINING_PRESETS } from './presets.js';
import { loadTrainingState, STATE_DIR, trainingStateStep } from './training-state.js';
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
  trajectory: TrajectoryOptions;
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

/** Fails with the reason when `dir` cannot be created or written (probed with a temp file). */
async function probeWritable(dir: string): Promise<void> {
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new ConfigError(`${dir}: is a file; --out must be a folder`);
  const probe = join(dir, `.scoresde-probe-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, 'probe');
  } catch (e) {
    throw new ConfigError(
      `${dir}: cannot write the output folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  } finally {
    await rm(probe, { force: true });
  }
}

/** A config given as a preset name, a config.json path or an object, with the preset's σ range if any. */
async function readConfigOption(
  config: string | Record<string, unknown>,
): Promise<{ raw: Record<string, unknown>; sigma?: [number, number] }> {
  if (typeof config !== 'string') return { raw: config };
  const preset = TRAINING_PRESETS[config];
  if (preset) return { raw: preset.config, sigma: [preset.sigmaMin, preset.sigmaMax] };
  if (existsSync(config)) return { raw: await readJsonConfig(config) };
  throw new ConfigError(
    `--config "${config}" is neither a preset (${Object.keys(TRAINING_PRESETS).join(', ')}) nor an existing config.json`,
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
  const given = checkNumericOptions(o);
  const outDir = resolve(o.out);
  if (o.resume && o.initFrom !== undefined)
    throw new ConfigError(
      '--init-from starts a new run; --resume continues the one in --out (give one of them)',
    );
  if (!o.resume && o.config !== undefined && o.initFrom !== undefined)
    throw new ConfigError('give --config (train from scratch) or --init-from (fine-tune), not both');
  await probeWritable(outDir);
  return o.resume ? resumeSetup(o, outDir, given) : newRunSetup(o, outDir, given);
}

async function newRunSetup(
  o: TrainOptions,
  outDir: string,
  given: ReturnType<typeof checkNumericOptions>,
): Promise<TrainingSetup> {
  const existing = await trainingStateStep(outDir);
  if (existing !== undefined) {
    throw new ConfigError(
      `${outDir} already holds a training run (checkpoint at step ${existing}); pass --resume to continue it, or choose another --out`,
    );
  }
  if (o.data === undefined) throw new ConfigError('--data is required (a folder of images or an IDX file)');
  let cfg: UNet2DConfig;
  let stateDict: Map<string, Float32Array>;
  const shapes = new Map<string, readonly number[]>();
  let schedulerBase: Record<string, unknown> | undefined;
  let sigma: [number, number] | undefined;
  if (o.initFrom !== undefined) {
    const layout = await resolvePipelineSource(o.initFrom, {
      cacheDir: o.cacheDir,
      revision: o.revision,
      localFilesOnly: o.localFilesOnly,
      progressStream: o.progressStream,
      progress: o.progressStream !== undefined,
      signal: o.signal,
    });
    const unet = await UNet2DModel.fromPretrained(layout.dir, { subfolder: layout.unetSubfolder });
    cfg = structuredClone(unet.config) as UNet2DConfig;
    stateDict = new Map();
    for (const [k, t] of unet.stateDict()) {
      if (k === 'time_proj.W') continue; // the same parameter as time_proj.weight
      stateDict.set(k, Float32Array.from(t.data));
      shapes.set(k, t.dims);
    }
    if (layout.hasSchedulerConfig) {
      const s = await ScoreSdeVeScheduler.fromPretrained(layout.dir, {
        subfolder: layout.schedulerSubfolder,
      });
      schedulerBase = { ...s.config };
      sigma = [s.config.sigma_min, s.config.sigma_max];
    }
  } else {
    if (o.config === undefined)
      throw new ConfigError('--config is required (a preset name or a config.json), or --init-from');
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
    cfg = named(() => resolveUnetConfig(read.raw));
    sigma = read.sigma;
    const trainable = named(() => checkTrainable(cfg));
    checkTrainingMemory(cfg, trainable, given.batchSize, o.maxMemory); // before any allocation
    stateDict = new Map();
    for (const [k, t] of randomStateDict(cfg, given.seed % 2 ** 32)) {
      stateDict.set(k, t.data);
      shapes.set(k, t.dims);
    }
  }
  const size = checkTrainable(cfg);
  if (o.initFrom !== undefined) checkTrainingMemory(cfg, size, given.batchSize, o.maxMemory);
  const trajectory: TrajectoryOptions = {
    ...given,
    sigmaMin: given.sigmaMin ?? sigma?.[0] ?? 0.01,
    sigmaMax: given.sigmaMax ?? sigma?.[1] ?? 50,
  };
  if (!(trajectory.sigmaMin < trajectory.sigmaMax))
    throw new ConfigError(
      `sigma-min (${trajectory.sigmaMin}) must be below sigma-max (${trajectory.sigmaMax})`,
    );
  const dataset = await openTrainingData(
    o.data,
    { channels: cfg.in_channels, height: size[0], width: size[1] },
    o,
  );
  const trainedKeys = trainedKeysOf(cfg, stateDict.keys());
  const optimizer = new ScoreSdeOptimizer(
    trainedKeys.map((k) => stateDict.get(k)!),
    {
      lr: trajectory.lr,
      warmup: trajectory.warmup,
      gradClip: trajectory.gradClip,
      emaDecay: trajectory.emaDecay,
    },
  );
  const generator = new Generator().manualSeed(trajectory.seed);
  const loader = new DataLoader(dataset, {
    batchSize: trajectory.batchSize,
    generator,
    flip: trajectory.flip,
  });
  return {
    outDir,
    unetConfig: configToJson(cfg),
    cfg,
    size,
    params: stateDict,
    shapes,
    trainedKeys,
    optimizer,
    generator,
    loader,
    dataset,
    trajectory,
    schedulerBase,
    startStep: 0,
    totalSteps: o.steps!,
  };
}

async function resumeSetup(
  o: TrainOptions,
  outDir: string,
  given: ReturnType<typeof checkNumericOptions>,
): Promise<TrainingSetup> {
  let state: Awaited<ReturnType<typeof loadTrainingState>>;
  try {
    state = await loadTrainingState(outDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ConfigError(
        `${outDir} holds no training checkpoint to resume (no training_state/manifest.json)`,
      );
    throw e;
  }
  const { info } = state;
  const saved = info.options as unknown as TrajectoryOptions & { schedulerBase?: Record<string, unknown> };
  const stateDir = join(outDir, STATE_DIR);
  // what a hand edit of the state could make wrong: named as the checkpoint's fault, not the user's flags
  const fromState = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new ConfigError(`${stateDir}: the checkpoint holds an invalid value (${(e as Error).message})`);
    }
  };
  const cfg = fromState(() => resolveUnetConfig(info.unetConfig));
  const size = fromState(() => checkTrainable(cfg));
  fromState(() => checkNumericOptions({ ...saved, out: outDir, resume: true }));
  checkParamsMatchModel(state.shapes, unetFootprint(cfg, size[0], size[1]).shapes, stateDir);
  if (o.config !== undefined) {
    const read = await readConfigOption(o.config);
    if (!sameJson(configToJson(resolveUnetConfig(read.raw)), configToJson(cfg)))
      throw new ConfigError(`--config differs from the model of the run being resumed in ${outDir}`);
  }
  // Options that decide the trajectory: a given one must equal the saved one; a missing one takes it.
  for (const key of TRAJECTORY_KEYS) {
    const explicit = (o as unknown as Record<string, unknown>)[key];
    if (explicit !== undefined && !sameJson(explicit, saved[key])) {
      throw new ConfigError(
        `${key} ${JSON.stringify(explicit)} differs from the resumed run's ${JSON.stringify(saved[key])}; a resumed run keeps its settings (fine-tune with --init-from instead)`,
      );
    }
  }
  void given;
  const trajectory = Object.fromEntries(
    TRAJECTORY_KEYS.map((k) => [k, saved[k]]),
  ) as unknown as TrajectoryOptions;
  checkTrainingMemory(cfg, size, trajectory.batchSize, o.maxMemory);
  const totalSteps = o.steps ?? (saved as { totalSteps?: number }).totalSteps ?? info.step;
  if (totalSteps < info.step)
    throw new ConfigError(`--steps ${totalSteps} is below the checkpoint's step ${info.step}`);
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
  const optimizer = new ScoreSdeOptimizer(
    trainedKeys.map((k) => state.params.get(k)!),
    {
      lr: trajectory.lr,
      warmup: trajectory.warmup,
      gradClip: trajectory.gradClip,
      emaDecay: trajectory.emaDecay,
    },
  );
  trainedKeys.forEach((k, i) => {
    optimizer.ema.shadow[i].set(state.ema.get(k)!);
    optimizer.adam.expAvg[i].set(state.adamM.get(k)!);
    optimizer.adam.expAvgSq[i].set(state.adamV.get(k)!);
  });
  optimizer.adam.stepCount = info.adamSteps;
  optimizer.ema.numUpdates = info.emaUpdates;
  const generator = fromState(() => new Generator().setState(info.generator as GeneratorState));
  const loader = new DataLoader(dataset, {
    batchSize: trajectory.batchSize,
    generator,
    flip: trajectory.flip,
  });
  fromState(() => loader.restore(info.loader as DataLoaderState));
  return {
    outDir,
    unetConfig: configToJson(cfg),
    cfg,
    size,
    params: state.params,
    shapes: state.shapes,
    trainedKeys,
    optimizer,
    generator,
    loader,
    dataset,
    trajectory,
    schedulerBase: saved.schedulerBase,
    startStep: info.step,
    totalSteps,
  };
}
