/**
 * Training-step benchmark: forward-only vs forward + backward of score_sde's DSM loss (DsmStepGraph), median
 * time after warm-up, the backward/forward ratio, GFLOP/s (training FLOPs counted as 3 × the forward's: the
 * backward's input and weight gradients each cost about one forward) and, when the Python reference is
 * installed (`REF_PY`), PyTorch's `time_train_step.py` on the same config and batch.
 *
 *   node --import tsx bench/train.ts        prints the markdown section
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUnetGraph } from '../src/models/unet-2d/build.js';
import { conditioningFeeds } from '../src/models/unet-2d/feeds.js';
import { randomStateDict, resolveUnetConfig, type UNet2DConfig } from '../src/models/unet-2d/index.js';
import { ParamTable, type StateDict } from '../src/models/unet-2d/weights.js';
import { countFlops } from '../src/onnx/flops.js';
import { OnnxSession } from '../src/onnx/session.js';
import { Tensor } from '../src/tensor.js';
import { DsmStepGraph, vesdeSigma } from '../src/training/dsm.js';
import { InputParams } from '../src/training/params.js';
import { ofPeak, peakSentence } from './peak.js';

const MODELS = fileURLToPath(new URL('../test/fixtures/models/', import.meta.url));

/** A ~2M-parameter 1×32×32 fourier VE model (the size an offline default model needs). */
export const SMALL_VE_CONFIG = {
  sample_size: 32,
  in_channels: 1,
  out_channels: 1,
  block_out_channels: [32, 64, 64, 128],
  down_block_types: ['DownBlock2D', 'DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
  layers_per_block: 1,
  time_embedding_type: 'fourier',
  flip_sin_to_cos: false,
  norm_num_groups: 16,
  attention_head_dim: 32,
  mid_block_scale_factor: Math.SQRT2,
};

interface Case {
  label: string;
  config: Record<string, unknown>;
  batch: number;
  warmup: number;
  runs: number;
}

const CASES: Case[] = [
  {
    label: 'tiny-ncsnpp',
    config: JSON.parse(readFileSync(`${MODELS}tiny-ncsnpp/config.json`, 'utf8')),
    batch: 4,
    warmup: 2,
    runs: 15,
  },
  { label: 'small VE 1×32×32', config: SMALL_VE_CONFIG, batch: 16, warmup: 2, runs: 9 },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  });
}

async function timeOnce(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * The forward alone, with weights as initializers (inference) or as graph inputs (as in the training graph,
 * where onnxruntime cannot pre-pack them), with the same inputs as the training step.
 */
async function forwardSession(cfg: UNet2DConfig, sd: StateDict | null, batch: number, size: number) {
  const g = buildUnetGraph(cfg, sd ? new ParamTable(sd) : new InputParams(), {
    height: size,
    width: size,
    batch,
  });
  const session = await OnnxSession.create(g.toModelBytes(), { allowSpinning: false }); // as DsmStepGraph
  return { session, flops: countFlops(g, batch) };
}

function torchStepMs(config: Record<string, unknown>, batch: number): number | null {
  const py = process.env.REF_PY;
  const script = process.env.REF_DIR ?? fileURLToPath(new URL('../../shared/refenv/', import.meta.url));
  if (!py) return null;
  const dir = mkdtempSync(join(tmpdir(), 'scoresde-bench-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ _class_name: 'UNet2DModel', ...config }));
    const out = execFileSync(py, [join(script, 'time_train_step.py'), file, String(batch), '5'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number.parseFloat(out.trim().split('\n').pop()!) * 1000;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timeCase(c: Case): Promise<string> {
  const cfg = resolveUnetConfig(c.config);
  const size = cfg.sample_size as number;
  const sd = randomStateDict(cfg, 1);
  const params = new Map([...sd].map(([k, t]) => [k, t.data]));
  const n = c.batch * cfg.in_channels * size * size;
  const x0 = uniform(n, 1);
  const z = uniform(n, 2).map((v) => v * 2 - 1);
  const sigma = vesdeSigma(uniform(c.batch, 3));
  const nParams = [...sd.values()].reduce((s, t) => s + t.numel, 0);

  const fwd = await forwardSession(cfg, sd, c.batch, size);
  const fwdIn = await forwardSession(cfg, null, c.batch, size);
  const feeds: Record<string, Tensor> = {
    sample: new Tensor('float32', x0, [c.batch, cfg.in_channels, size, size]),
    ...conditioningFeeds(cfg, sd.get('time_proj.weight')?.data, Float64Array.from(sigma)),
  };
  const feedsIn: Record<string, Tensor> = { ...feeds };
  for (const name of fwdIn.session.inputNames)
    if (sd.has(name) && !(name in feeds)) feedsIn[name] = sd.get(name)!;
  const step = await DsmStepGraph.create(cfg, { batchSize: c.batch, height: size, width: size });
  // Interleaved, so that both see the same machine load.
  const fwdTimes: number[] = [];
  const fwdInTimes: number[] = [];
  const stepTimes: number[] = [];
  for (let i = 0; i < c.warmup + c.runs; i++) {
    const f = await timeOnce(() => fwd.session.run(feeds));
    const fi = await timeOnce(() => fwdIn.session.run(feedsIn));
    const s = await timeOnce(() => step.run(params, { x0, z, sigma }));
    if (i < c.warmup) continue;
    fwdTimes.push(f);
    fwdInTimes.push(fi);
    stepTimes.push(s);
  }
  await fwd.session.release();
  await fwdIn.session.release();
  await step.release();

  const f = median(fwdTimes);
  const fi = median(fwdInTimes);
  const s = median(stepTimes);
  const gflop = (3 * fwd.flops) / 1e9;
  const gflops = gflop / (s / 1000);
  const rssMiB = process.resourceUsage().maxRSS / 1024; // process peak so far (cases run small to large)
  const torch = torchStepMs(c.config, c.batch);
  const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `| ${c.label} | ${(nParams / 1e6).toFixed(2)} M | ${c.batch} | ${fmt(f)} | ${fmt(fi)} | ${fmt(s)} | ${((s - fi) / fi).toFixed(2)}× | ${gflop.toFixed(2)} | ${ofPeak(gflops)} | ${rssMiB.toFixed(0)} | ${torch === null ? 'n/a' : `${fmt(torch)} (${(torch / s).toFixed(2)}×)`} |`;
}

export async function runTrainBench(): Promise<string> {
  const rows: string[] = [];
  for (const c of CASES) {
    console.error(`[bench] train: ${c.label} batch ${c.batch}`);
    rows.push(await timeCase(c));
  }
  return [
    'One DSM training step (score_sde continuous VE, σ ∈ [0.01, 50]) on random weights: the forward alone vs ' +
      "DsmStepGraph.run (forward, loss, backward to every parameter; no optimiser), float32, onnxruntime's CPU " +
      'provider, idle threads not spinning (the DsmStepGraph default) in both. The training graph takes the weights as inputs (one session for every step), which onnxruntime cannot pre-pack, so its forward is timed that way too; backward/forward = (step − that forward) / that forward. Runs interleaved, medians. Training GFLOP = 3 × the forward FLOPs. PyTorch: ' +
      '`time_train_step.py` (forward, backward, clip, Adam, EMA) on the same config and batch, torch 1.13, 2 threads ' +
      '(`source ../shared/refenv/env.sh` first; n/a without it). Peak RSS: the bench process so far (cases run ' +
      'small to large). ' +
      peakSentence(),
    '',
    '| model | params | batch | forward ms (weights constant) | forward ms (weights as inputs) | forward + backward ms | backward / forward | training GFLOP | GFLOP/s (% of peak) | peak RSS MiB | PyTorch step ms (ours faster by) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await runTrainBench());
