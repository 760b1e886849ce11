/**
 * One case of the gradient-graphs bench (bench/gradient-graphs.ts), in its own process, printed as one JSON line.
 * The bench runs this file in the current tree and, copied to the same path, in a worktree of the code before the
 * blocked NCHWc path and the composite-op adjoints (2182d1f): so its static imports are only modules and exports
 * that existed there, with the same signatures, and the current tree's convolution-path API (resolveConvPath and
 * the `convPath` options) is used only when a path is named.
 *
 *   node --import tsx bench/gradient-graphs-runner.ts <dsm|vjp|classifier> [blocked|standard] [warmup] [runs]
 *   node --import tsx bench/gradient-graphs-runner.ts solve [images] [rtol]     (current tree only)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CLASSIFIER_CONFIG } from '../src/evaluation/classifier/config.js';
import { initClassifierParameters, trainingGraph } from '../src/evaluation/classifier/train.js';
import { Adam } from '../src/gradients/adam.js';
import { ScoreVjpGraph } from '../src/gradients/score-vjp.js';
import { randomStateDict, resolveUnetConfig, UNet2DModel } from '../src/models/unet-2d/index.js';
import { OnnxSession } from '../src/onnx/session.js';
import { Generator } from '../src/random/index.js';
import { Tensor } from '../src/tensor.js';
import { DsmStepGraph } from '../src/training/dsm.js';
import { drawNoise } from '../src/training/noise.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The bundled model's training config (scripts/train-default-model.sh) and its batch. */
const DSM_CONFIG = `${ROOT}scripts/fashion-mnist-unet.json`;
const DSM_BATCH = 64;
const MODEL = `${ROOT}models/fashion-mnist`;
/** The likelihood's default images per solve (datasetLikelihood's batchSize). */
export const VJP_BATCH = 16;
/** trainClassifier's default batch. */
export const CLASSIFIER_BATCH = 128;

export type Consumer = 'dsm' | 'vjp' | 'classifier';
export type ConvPathName = 'blocked' | 'standard';

export interface RunnerResult {
  /** Median ms per call of the timed part (the step graph, the score + VJP graph, the classifier's step). */
  ms: number;
  /** Every timed call, ms. */
  all: number[];
  /** The classifier: the graph run alone (its step adds the host Adam update). */
  graphMs?: number;
  /** Graph build + session creation, ms. */
  createMs: number;
  /** The process's peak resident set, MiB. */
  maxRssMiB: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The current tree's session options for a named path ({} in the code before, which has no such option). */
function pathOptions(convPath: ConvPathName | undefined): { convPath?: ConvPathName } {
  return convPath ? { convPath } : {};
}

/** The NCHWc block of a named path (current tree only: the code before has no resolveConvPath). */
async function pathBlock(convPath: ConvPathName | undefined): Promise<number | null> {
  if (!convPath) return null;
  const { resolveConvPath } = await import('../src/onnx/session.js');
  return (await resolveConvPath(convPath)).block;
}

async function timeLoop(
  warmup: number,
  runs: number,
  call: () => Promise<number | undefined>,
): Promise<{ all: number[]; inner: number[] }> {
  const all: number[] = [];
  const inner: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = performance.now();
    const part = await call();
    if (i >= warmup) {
      all.push(performance.now() - t0);
      if (part !== undefined) inner.push(part);
    }
  }
  return { all, inner };
}

/** The bundled model's DSM step graph (random weights: the time does not depend on them), batch 64. */
async function dsm(convPath: ConvPathName | undefined, warmup: number, runs: number): Promise<RunnerResult> {
  const cfg = resolveUnetConfig(JSON.parse(readFileSync(DSM_CONFIG, 'utf8')));
  const size = cfg.sample_size as number;
  const params = new Map([...randomStateDict(cfg, 1)].map(([k, t]) => [k, t.data]));
  const g = new Generator().manualSeed(1);
  const shape = [DSM_BATCH, cfg.in_channels, size, size] as const;
  const x0 = Float32Array.from({ length: DSM_BATCH * cfg.in_channels * size * size }, () => g.nextFloat());
  const t0 = performance.now();
  const step = await DsmStepGraph.create(cfg, {
    batchSize: DSM_BATCH,
    height: size,
    width: size,
    ...pathOptions(convPath),
  });
  const createMs = performance.now() - t0;
  try {
    const { all } = await timeLoop(warmup, runs, async () => {
      const noise = drawNoise(g, shape, 0.01, 50);
      const t = performance.now();
      await step.run(params, { x0, sigma: noise.sigma, z: noise.z });
      return performance.now() - t;
    });
    return { ms: median(all), all, createMs, maxRssMiB: 0 };
  } finally {
    await step.release();
  }
}

/** The likelihood's network call: score + input VJP of the bundled model (its weights), batch 16. */
async function vjp(convPath: ConvPathName | undefined, warmup: number, runs: number): Promise<RunnerResult> {
  const unet = await UNet2DModel.fromPretrained(`${MODEL}/unet`);
  const size = unet.config.sample_size as number;
  const c = unet.config.in_channels;
  const n = VJP_BATCH * c * size * size;
  const g = new Generator().manualSeed(2);
  // σ from 50 down to 0.01 across the rows, as a batch meets them along a solve; x ~ N(0, σ²), ε Rademacher.
  const sigma = Float32Array.from({ length: VJP_BATCH }, (_, i) => 50 * (0.01 / 50) ** (i / (VJP_BATCH - 1)));
  const x = new Float32Array(n);
  const eps = new Float32Array(n);
  const rowSize = n / VJP_BATCH;
  for (let i = 0; i < n; i++) {
    const u = Math.max(g.nextFloat(), 1e-7);
    x[i] =
      sigma[Math.floor(i / rowSize)] * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * g.nextFloat());
    eps[i] = g.nextFloat() < 0.5 ? -1 : 1;
  }
  const t0 = performance.now();
  const graph = await ScoreVjpGraph.create(unet, {
    batchSize: VJP_BATCH,
    height: size,
    width: size,
    ...pathOptions(convPath),
  });
  const createMs = performance.now() - t0;
  try {
    const { all } = await timeLoop(warmup, runs, async () => {
      await graph.run(x, sigma, eps);
      return undefined;
    });
    return { ms: median(all), all, createMs, maxRssMiB: 0 };
  } finally {
    await graph.release();
    await unet.release();
  }
}

/** The evaluation classifier's training step (graph run + host Adam, as trainClassifier runs it), batch 128. */
async function classifier(
  convPath: ConvPathName | undefined,
  warmup: number,
  runs: number,
): Promise<RunnerResult> {
  const config = DEFAULT_CLASSIFIER_CONFIG;
  const b = CLASSIFIER_BATCH;
  const s = config.sample_size;
  const params = initClassifierParameters(config, 1);
  const g = new Generator().manualSeed(3);
  const images = Float32Array.from({ length: b * config.in_channels * s * s }, () => g.nextFloat());
  const onehot = new Float32Array(b * config.num_classes);
  for (let i = 0; i < b; i++) onehot[i * config.num_classes + (i % config.num_classes)] = 1;
  const t0 = performance.now();
  const block = await pathBlock(convPath);
  // The code before takes (config, batchSize); the current tree's third argument is the NCHWc block or null.
  const { bytes, grads } = block === null ? trainingGraph(config, b) : trainingGraph(config, b, block);
  const session = await OnnxSession.create(bytes);
  const createMs = performance.now() - t0;
  const names = [...params.keys()];
  const adam = new Adam(names.map((name) => params.get(name)!.data.length));
  const weights = names.map((name) => params.get(name)!.data);
  try {
    const { all, inner } = await timeLoop(warmup, runs, async () => {
      const feeds: Record<string, Tensor> = {
        images: new Tensor('float32', images, [b, config.in_channels, s, s]),
        onehot: new Tensor('float32', onehot, [b, config.num_classes]),
      };
      for (const [name, p] of params) feeds[name] = p;
      const t = performance.now();
      const out = await session.run(feeds);
      const graphMs = performance.now() - t;
      adam.step(
        weights,
        names.map((name) => out.get(grads.get(name)!)!.data as Float32Array),
        1e-3,
      );
      return graphMs;
    });
    return { ms: median(all), all, graphMs: median(inner), createMs, maxRssMiB: 0 };
  } finally {
    await session.release();
  }
}

/** One real likelihood solve (current tree, default path) of the first images of the test subset: its NFE. */
async function solve(
  images: number,
  rtol: number,
): Promise<{ images: number; nfe: number; networkCalls: number; seconds: number }> {
  const { datasetLikelihood, unetScoreVjp } = await import('../src/likelihood/index.js');
  const { openImageDataset } = await import('../src/data/index.js');
  const { ScoreSdeVePipeline } = await import('../src/pipelines/index.js');
  const pipe = await ScoreSdeVePipeline.fromPretrained(MODEL);
  const [height, width] = pipe.sampleSize;
  const dataset = await openImageDataset(`${ROOT}test/fixtures/fashion-mnist`, {
    channels: pipe.unet.config.in_channels,
    height,
    width,
    split: 'test',
  });
  const fn = await unetScoreVjp(pipe.unet, { batchSize: VJP_BATCH });
  try {
    const t0 = performance.now();
    const r = await datasetLikelihood(fn, dataset, {
      count: Math.min(images, dataset.length),
      batchSize: VJP_BATCH,
      sigmaMin: pipe.scheduler.config.sigma_min,
      sigmaMax: pipe.scheduler.config.sigma_max,
      rtol,
      atol: rtol,
      generator: new Generator().manualSeed(0),
    });
    return {
      images: Math.min(images, dataset.length),
      nfe: r.nfe / r.solves,
      networkCalls: r.networkCalls / r.solves,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await fn.release();
    await pipe.release();
  }
}

async function main(): Promise<void> {
  const [what, a, b, c] = process.argv.slice(2);
  if (what === 'solve') {
    console.log(JSON.stringify(await solve(Number(a ?? VJP_BATCH), Number(b ?? 1e-5))));
    return;
  }
  const convPath = a === 'blocked' || a === 'standard' ? a : undefined;
  const warmup = Number(b ?? 1);
  const runs = Number(c ?? 3);
  const run = { dsm, vjp, classifier }[what as Consumer];
  if (!run) throw new Error(`unknown consumer ${what}`);
  const r = await run(convPath, warmup, runs);
  r.maxRssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify(r));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
