/**
 * `train()`: score_sde's training loop (run_lib.train with losses.get_step_fn, continuous VE DSM) for a
 * diffusers UNet2DModel, on onnxruntime-node.
 *
 * Each step k = 0, 1, … draws, in this fixed order, from one torch-exact Generator seeded with `seed`:
 *   1. the batch: the loader's shuffle (at each epoch start) and flips;
 *   2. t = rand(B)·(1 − 1e-5) + 1e-5, σ = σ_min·(σ_max/σ_min)^t;
 *   3. z = randn(B, C, H, W);
 *   4. dropout masks (configs with dropout > 0), one rand() per mask element;
 * then computes the loss ½ Σ (σ·score(x0 + σz, σ) + z)² (batch mean) and its gradients, clips them, takes an
 * Adam step with lr·min(k/warmup, 1) and updates the EMA. Checkpoints (see training-state.ts) hold
 * everything that decides later steps, so a resumed run repeats the uninterrupted one bit for bit.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DivergenceError } from '../errors.js';
import type { UNet2DModel } from '../models/unet-2d/model.js';
import { ProgressBar } from '../progress.js';
import { prepareDiagnostic, type TrainingDiagnostic } from './diagnose.js';
import { DsmStepGraph } from './dsm.js';
import { drawNoise } from './noise.js';
import { learningRate } from './optimization.js';
import { cadenceOf, type TrainOptions, type TrainStep, trajectoryOf } from './options.js';
import { trainingScheduler, unetFromWeights, writePipelineFolder } from './pipeline-folder.js';
import { sampleGrid } from './sample-grid.js';
import { setupTraining, type TrainingSetup } from './setup.js';
import { parseSigmaSampling, type SigmaAllocation } from './sigma-sampling.js';
import { drawReferenceImages, StableTargets } from './stable-target.js';
import { TrainLog } from './train-log.js';
import { saveTrainingState } from './training-state.js';

export interface TrainResult {
  /** Steps completed (the last checkpoint's step). */
  step: number;
  /** The output folder (a diffusers pipeline folder with the EMA weights). */
  outDir: string;
  /** True when stopped by the signal before `steps`. */
  interrupted: boolean;
  /** The last step's loss and its smoothed value (NaN if no step ran). */
  loss: number;
  smoothedLoss: number;
  /** The step the run started from (the checkpoint's when resumed, else 0). */
  startStep: number;
  /** Wall-clock seconds of the steps this call ran (sample grids and checkpoints included). */
  seconds: number;
  /** Paths of the sample grids this call wrote. */
  samples: string[];
}

/**
 * The warning for a warmup longer than the run: the learning rate never reaches `lr`, and a short run with
 * score_sde's warmup (5000) barely moves (undefined when the warmup ends within the run).
 */
export function warmupWarning(warmup: number, lr: number, totalSteps: number): string | undefined {
  if (!(warmup > totalSteps)) return undefined;
  const last = learningRate(totalSteps - 1, lr, warmup);
  return `warmup ${warmup} is longer than the run (${totalSteps} steps): the learning rate only reaches ${last.toExponential(1)} (${((100 * last) / lr).toPrecision(2)} % of lr ${lr}) at the last step, so the model learns little; use a warmup of at most about a tenth of the steps (--warmup ${Math.max(1, Math.round(totalSteps / 10))})`;
}

const SMOOTHING = 0.9;

/** The full state dict with the trained keys' EMA in place of the raw weights (what gets published). */
function emaWeights(s: TrainingSetup): Map<string, Float32Array> {
  const ema = new Map(s.params);
  for (const [i, k] of s.trainedKeys.entries()) ema.set(k, s.optimizer.ema.shadow[i]);
  return ema;
}

/** Writes the pipeline folder (EMA weights) and then the training state (the commit point). */
async function checkpoint(s: TrainingSetup, step: number): Promise<void> {
  const { sigmaMin, sigmaMax } = s.options;
  await writePipelineFolder(
    s.outDir,
    s.unetConfig,
    emaWeights(s),
    s.shapes,
    trainingScheduler(s.schedulerBase, sigmaMin, sigmaMax),
  );
  const optimizer = s.optimizer.state();
  const pick = (arrays: readonly Float32Array[]) => new Map(s.trainedKeys.map((k, i) => [k, arrays[i]]));
  await saveTrainingState(s.outDir, {
    info: {
      step,
      trainedKeys: s.trainedKeys,
      unetConfig: s.unetConfig,
      options: {
        ...trajectoryOf(s.options),
        schedulerBase: s.schedulerBase,
        totalSteps: s.totalSteps,
        cadence: cadenceOf(s.options),
      },
      generator: s.generator.getState(),
      loader: s.loader.state(),
      adamSteps: optimizer.adamSteps,
      emaUpdates: optimizer.emaUpdates,
      data: { source: s.dataset.source, length: s.dataset.length },
    },
    params: s.params,
    ema: pick(optimizer.ema),
    adamM: pick(optimizer.expAvg),
    adamV: pick(optimizer.expAvgSq),
    shapes: s.shapes,
  });
}

/** Runs `use` on a UNet holding the current EMA weights (what gets published), then frees it. */
async function withEmaUnet<T>(s: TrainingSetup, use: (unet: UNet2DModel) => Promise<T>): Promise<T> {
  const unet = unetFromWeights(s.unetConfig, emaWeights(s), s.shapes, {
    intraOpThreads: s.options.intraOpThreads,
  });
  try {
    return await use(unet);
  } finally {
    await unet.release();
  }
}

/** Samples a grid from the EMA weights into samples/step-<k>.png; returns its path. */
async function writeSamples(s: TrainingSetup, step: number, signal?: AbortSignal): Promise<string> {
  const { sampleCount, sampleSteps, sigmaMin, sigmaMax } = s.options;
  return withEmaUnet(s, async (unet) => {
    const grid = await sampleGrid(unet, {
      count: sampleCount,
      steps: sampleSteps,
      sigmaMin,
      sigmaMax,
      seed: 0,
      signal,
    });
    const path = join(s.outDir, 'samples', `step-${step}.png`);
    await mkdir(join(s.outDir, 'samples'), { recursive: true });
    await grid.save(path);
    return path;
  });
}

/** The per-σ table of the EMA weights, logged as one train_log.jsonl record (see diagnose.ts). */
async function writeDiagnostic(
  s: TrainingSetup,
  step: number,
  diag: TrainingDiagnostic,
  log: TrainLog,
  signal?: AbortSignal,
) {
  return withEmaUnet(s, async (unet) => {
    const r = await diag.run(unet, signal);
    const denoiser = r.rows.map(({ sigma, model, gaussian, ratio, normCorrectedRatio }) => ({
      sigma,
      model,
      gaussian,
      ratio,
      normCorrectedRatio,
    }));
    await log.writeDiagnostic({
      step,
      denoiser,
      images: r.count,
      held_out: diag.heldOut,
      source: diag.source,
    });
    return r;
  });
}

/**
 * One optimisation step k = `step` (0-based): the batch and its noise in the fixed draw order (σ through the
 * run's allocation), the loss and gradients, then clipping, Adam and the EMA. A non-finite loss stops before
 * the update, so the checkpoint of step `kept` stays the last good state.
 */
async function takeStep(
  s: TrainingSetup,
  dsm: DsmStepGraph,
  stf: StableTargets | undefined,
  allocation: SigmaAllocation,
  step: number,
  kept: number,
) {
  const { options: tr, size, cfg } = s;
  const shape = [tr.batchSize, cfg.in_channels, size[0], size[1]] as const;
  const { x: x0 } = await s.loader.nextBatch();
  const noise = drawNoise(s.generator, shape, tr.sigmaMin, tr.sigmaMax, allocation);
  const dropoutMasks = dsm.dropoutInputs.size > 0 ? dsm.drawDropoutMasks(s.generator) : undefined;
  // STF draws its reference images last, so that a run without it keeps score_sde's draw order.
  const target = stf
    ? await stf.targets(
        x0,
        noise.z,
        noise.sigma,
        await drawReferenceImages(s.dataset, s.generator, x0, tr.referenceBatch, tr.flip),
      )
    : { x0, z: noise.z };
  const out = await dsm.run(s.params, { x0: target.x0, sigma: noise.sigma, z: target.z, dropoutMasks });
  if (!Number.isFinite(out.loss)) {
    throw new DivergenceError(
      (n) =>
        `the loss is ${out.loss} at step ${step + 1}; stopping (the checkpoint of step ${kept} is kept). Lower ${n('lr')} or ${n('sigmaMax')}, or raise ${n('warmup')}`,
    );
  }
  const grads = s.trainedKeys.map((k) => {
    const g = out.grads.get(k);
    if (!g) throw new Error(`the DSM step returned no gradient for ${k}`);
    return g;
  });
  const trained = s.trainedKeys.map((k) => s.params.get(k)!);
  return { loss: out.loss, ...s.optimizer.update(step, trained, grads) };
}

/** The loss's bias-corrected exponential moving average (0.9), as the progress bar shows it. */
function lossSmoother(): (loss: number) => number {
  let sum = 0;
  let weight = 0;
  return (loss) => {
    sum = SMOOTHING * sum + (1 - SMOOTHING) * loss;
    weight = SMOOTHING * weight + (1 - SMOOTHING);
    return sum / weight;
  };
}

/** A sample grid after step `step` when the cadence says so (its path, or undefined); an abort skips it. */
async function sampleAt(s: TrainingSetup, step: number, options: TrainOptions): Promise<string | undefined> {
  const every = s.options.sampleEvery;
  if (!(every > 0 && step % every === 0) || options.signal?.aborted) return undefined;
  try {
    const path = await writeSamples(s, step, options.signal);
    options.onSample?.(step, path);
    return path;
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
    return undefined;
  }
}

/**
 * What the loop needs besides the setup: the σ allocation, the per-σ diagnostic (when asked for), the step
 * graph, STF's target graph (referenceBatch > 0), the log and the progress bar; warns first of a warmup too long for the run, and calls onStart last.
 */
async function runParts(s: TrainingSetup, options: TrainOptions) {
  const { options: tr, size } = s;
  const total = s.totalSteps;
  const warning = warmupWarning(tr.warmup, tr.lr, total);
  if (warning) (options.onWarning ?? ((m: string) => process.emitWarning(m)))(warning);
  const allocation = parseSigmaSampling(tr.sigmaSampling);
  const diagnostic =
    tr.diagnoseEvery > 0
      ? await prepareDiagnostic(
          s.dataset,
          [tr.sigmaMin, tr.sigmaMax],
          options.diagnoseData,
          typeof options.data === 'string' ? options.data : s.dataset.source,
        )
      : undefined;
  const dsm = await DsmStepGraph.create(s.cfg, {
    batchSize: tr.batchSize,
    height: size[0],
    width: size[1],
    intraOpThreads: tr.intraOpThreads,
    convPath: options.convPath,
  });
  const stf =
    tr.referenceBatch > 0
      ? await StableTargets.create(s.cfg.in_channels * size[0] * size[1], tr.intraOpThreads)
      : undefined;
  const log = await TrainLog.open(s.outDir, s.startStep);
  const bar = options.progressStream
    ? new ProgressBar({
        total,
        initial: s.startStep,
        desc: 'train',
        unit: 'step',
        stream: options.progressStream,
      })
    : undefined;
  options.onStart?.({
    startStep: s.startStep,
    totalSteps: total,
    resumed: options.resume === true,
    cadence: cadenceOf(tr),
    dims: s.cfg.in_channels * size[0] * size[1],
  });
  return { allocation, diagnostic, dsm, stf, log, bar };
}

/** A finished step in the log, to onStep and on the bar. */
async function reportStep(
  r: TrainStep,
  log: TrainLog,
  bar: ProgressBar | undefined,
  options: TrainOptions,
): Promise<void> {
  await log.write({ step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, seconds: r.seconds });
  options.onStep?.(r);
  if (bar) {
    bar.postfix = `loss=${r.smoothedLoss.toPrecision(4)}, lr=${r.lr.toExponential(1)}`;
    bar.update();
  }
}

/** Trains (or resumes) as `options` say; see the module comment for the algorithm. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const s = await setupTraining(options);
  const { options: tr } = s;
  const total = s.totalSteps;
  const { allocation, diagnostic, dsm, stf, log, bar } = await runParts(s, options);
  const started = performance.now();
  const samples: string[] = [];
  const smooth = lossSmoother();
  let step = s.startStep;
  let lastCheckpoint = s.startStep;
  let loss = Number.NaN;
  let smoothed = Number.NaN;
  let interrupted = false;
  const commit = async () => {
    await checkpoint(s, step);
    lastCheckpoint = step;
    options.onCheckpoint?.(step);
  };
  try {
    while (step < total) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const t0 = performance.now();
      const taken = await takeStep(s, dsm, stf, allocation, step, lastCheckpoint);
      const { lr, gradNorm } = taken;
      step += 1;
      const seconds = (performance.now() - t0) / 1000;
      loss = taken.loss;
      smoothed = smooth(loss);
      const report = { step, totalSteps: total, loss, smoothedLoss: smoothed, lr, gradNorm, seconds };
      await reportStep(report, log, bar, options);
      const grid = await sampleAt(s, step, options);
      if (grid) samples.push(grid);
      if (diagnostic && step % tr.diagnoseEvery === 0 && !options.signal?.aborted) {
        // Logged whether or not a callback listens (an optional call would skip evaluating its arguments).
        const table = await writeDiagnostic(s, step, diagnostic, log, options.signal);
        options.onDiagnostic?.(step, table);
      }
      if ((tr.checkpointEvery > 0 && step % tr.checkpointEvery === 0) || step === total) await commit();
    }
    if (step !== lastCheckpoint) await commit();
  } finally {
    bar?.close();
    await log.close();
    await dsm.release();
    await stf?.release();
  }
  return {
    step,
    outDir: s.outDir,
    interrupted,
    loss,
    smoothedLoss: smoothed,
    startStep: s.startStep,
    seconds: (performance.now() - started) / 1000,
    samples,
  };
}
