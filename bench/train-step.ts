/**
 * Training-step benchmark: one step of score_sde's continuous VE DSM training as `train()` runs it (noise draws,
 * forward + loss + backward in one onnxruntime graph, then clip + Adam + EMA on the host), for tiny-ncsnpp,
 * the 1×32×32 preset (with and without its attention) and the bundled model's run, on both convolution paths
 * (blocked NCHWc kernels and standard ops, src/onnx/nchwc.ts), beside PyTorch doing the same step
 * (`$REF_PY ../shared/refenv/time_train_step.py`, when REF_PY is set) in the same run. Where the time goes: the
 * forward with constant weights (sampling) and with weights as graph inputs (as the step graph has them), so the
 * in-graph backward/forward ratio is measured, and an onnxruntime profile of the bundled model's step by op type.
 * Each case runs in its own process so its peak RSS is its own; the paths and PyTorch alternate, ROUNDS times
 * (default 2, the best median kept), so that load on a shared machine hits them alike.
 *
 *   node --import tsx bench/train-step.ts                                  prints the markdown section
 *   node --import tsx bench/train-step.ts --case <name> --conv-path <p>    one case, as JSON (used by the section)
 *   node --import tsx bench/train-step.ts --profile <name> --conv-path <p> its profile by op type, as JSON
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { InputParams } from '../src/gradients/input-params.js';
import { buildUnetGraph } from '../src/models/unet-2d/build.js';
import { conditioningFeeds } from '../src/models/unet-2d/feeds.js';
import {
  configToJson,
  randomStateDict,
  resolveUnetConfig,
  UNet2DModel,
} from '../src/models/unet-2d/index.js';
import { ParamTable } from '../src/models/unet-2d/weights.js';
import { countFlops } from '../src/onnx/flops.js';
import type { GraphBuilder } from '../src/onnx/graph.js';
import { lowerConvsToNchwc } from '../src/onnx/nchwc.js';
import { nchwcBlockSize, OnnxSession } from '../src/onnx/session.js';
import { Generator } from '../src/random/index.js';
import { Tensor } from '../src/tensor.js';
import { DsmStepGraph } from '../src/training/dsm.js';
import { drawNoise } from '../src/training/noise.js';
import { ScoreSdeOptimizer } from '../src/training/optimization.js';
import { TRAINING_PRESETS } from '../src/training/presets.js';
import { ofPeak, peakSentence } from './peak.js';

const MODELS = fileURLToPath(new URL('../test/fixtures/models/', import.meta.url));
const FASHION_MNIST_CONFIG = fileURLToPath(new URL('../scripts/fashion-mnist-unet.json', import.meta.url));
const REFENV = fileURLToPath(new URL('../../shared/refenv/', import.meta.url));

interface Case {
  label: string;
  config: () => Record<string, unknown>;
  batch: number;
  warmup: number;
  runs: number;
}

const CASES: Case[] = [
  {
    label: 'tiny-ncsnpp',
    config: () => JSON.parse(readFileSync(`${MODELS}tiny-ncsnpp/config.json`, 'utf8')),
    batch: 8,
    warmup: 2,
    runs: 7,
  },
  {
    label: 've-gray-32',
    config: () => TRAINING_PRESETS['ve-gray-32'].config,
    batch: 8,
    warmup: 2,
    runs: 7,
  },
  {
    // The same without its attention blocks: Debian's torch runs convolutions on oneDNN but attention's matrix
    // products on the reference BLAS, so the PyTorch ratio depends on how much of a model is attention.
    label: 've-gray-32, no attention',
    config: () => ({
      ...TRAINING_PRESETS['ve-gray-32'].config,
      down_block_types: ['DownBlock2D', 'DownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'UpBlock2D', 'UpBlock2D'],
    }),
    batch: 8,
    warmup: 2,
    runs: 7,
  },
  {
    // The bundled model's own run (scripts/train-default-model.sh): its config at its batch size.
    label: 'fashion-mnist',
    config: () => JSON.parse(readFileSync(FASHION_MNIST_CONFIG, 'utf8')),
    batch: 64,
    warmup: 1,
    runs: 3,
  },
];

type Path = 'standard' | 'blocked';

interface CaseResult {
  convPath: Path;
  params: number;
  stepMs: number;
  graphMs: number;
  hostMs: number;
  forwardMs: number;
  forwardInputsMs: number;
  gflopStep: number;
  gflopForward: number;
  maxRssMiB: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** FLOPs of the DSM graph: countFlops (Conv, MatMul, Gemm) plus the backward's ConvTranspose nodes. */
function stepFlops(g: GraphBuilder): number {
  let flops = countFlops(g);
  for (const n of g.nodes) {
    if (n.opType !== 'ConvTranspose') continue;
    const w = g.shape(n.inputs[1]) as number[]; // (C_in, C_out/group, kH, kW)
    const x = g.shape(n.inputs[0]) as number[];
    flops += 2 * x.reduce((p, d) => p * d, 1) * w[1] * w[2] * w[3];
  }
  return flops;
}

/** One case in this process: the loop's step body, timed in parts. */
async function runCase(c: Case, convPath: Path): Promise<CaseResult> {
  const cfg = resolveUnetConfig(c.config());
  const size = cfg.sample_size as number;
  const sd = randomStateDict(cfg, 1);
  const params = new Map([...sd].map(([k, t]) => [k, t.data]));
  const trained = [...params.keys()].filter(
    (k) => !(cfg.time_embedding_type === 'fourier' && k === 'time_proj.weight'),
  );
  const list = trained.map((k) => params.get(k)!);
  const opt = new ScoreSdeOptimizer(list);
  const g = new Generator().manualSeed(1);
  const x0 = Float32Array.from({ length: c.batch * cfg.in_channels * size * size }, () => g.nextFloat());
  const dsm = await DsmStepGraph.create(cfg, { batchSize: c.batch, height: size, width: size, convPath });
  const steps: number[] = [];
  const graph: number[] = [];
  const host: number[] = [];
  let k = 0;
  try {
    for (let i = 0; i < c.warmup + c.runs; i++) {
      const t0 = performance.now();
      const noise = drawNoise(g, [c.batch, cfg.in_channels, size, size], 0.01, 50);
      const out = await dsm.run(params, { x0, sigma: noise.sigma, z: noise.z });
      const t1 = performance.now();
      opt.update(
        k++,
        list,
        trained.map((key) => out.grads.get(key)!),
      );
      const t2 = performance.now();
      if (i >= c.warmup) {
        steps.push(t2 - t0);
        graph.push(t1 - t0);
        host.push(t2 - t1);
      }
    }
  } finally {
    await dsm.release();
  }
  // The forward alone, same batch: as sampling runs it (weights constant, so onnxruntime pre-packs them), and as
  // the step graph holds it (weights as graph inputs, threads not spinning), for the in-graph backward/forward.
  const unet = UNet2DModel.fromConfig(c.config(), sd);
  const x = new Tensor('float32', x0, [c.batch, cfg.in_channels, size, size]);
  const sigma = new Float32Array(c.batch).fill(5);
  const fwdGraph = buildUnetGraph(cfg, new InputParams(), { height: size, width: size, batch: c.batch });
  const block = await nchwcBlockSize();
  if (convPath === 'blocked' && block !== null) lowerConvsToNchwc(fwdGraph, block);
  const fwdInputs = await OnnxSession.create(fwdGraph.toModelBytes(), { allowSpinning: false });
  const feeds: Record<string, Tensor> = {
    sample: x,
    ...conditioningFeeds(cfg, sd.get('time_proj.weight')?.data, Float64Array.from(sigma)),
  };
  for (const name of fwdInputs.inputNames) if (sd.has(name) && !(name in feeds)) feeds[name] = sd.get(name)!;
  const fwd: number[] = [];
  const fwdIn: number[] = [];
  try {
    for (let i = 0; i < c.warmup + c.runs; i++) {
      const t0 = performance.now();
      await unet.forward(x, sigma);
      const t1 = performance.now();
      await fwdInputs.run(feeds);
      if (i >= c.warmup) {
        fwd.push(t1 - t0);
        fwdIn.push(performance.now() - t1);
      }
    }
  } finally {
    await unet.release();
    await fwdInputs.release();
  }
  return {
    convPath,
    params: list.reduce((n, p) => n + p.length, 0),
    stepMs: median(steps),
    graphMs: median(graph),
    hostMs: median(host),
    forwardMs: median(fwd),
    forwardInputsMs: median(fwdIn),
    gflopStep: stepFlops(DsmStepGraph.build(cfg, c.batch, size, size).graph) / 1e9,
    gflopForward:
      countFlops(buildUnetGraph(cfg, new ParamTable(null), { height: size, width: size }), c.batch) / 1e9,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

/** PyTorch's median step (s) and the peak RSS of its process (MiB), or undefined without REF_PY. */
function torchStep(c: Case, dir: string): { ms: number; maxRssMiB: number } | undefined {
  const py = process.env.REF_PY;
  if (!py) return undefined;
  const cfgPath = join(dir, `${c.label}.json`);
  writeFileSync(cfgPath, JSON.stringify(configToJson(resolveUnetConfig(c.config()))));
  // A wrapper reports the child's peak RSS (ru_maxrss, KiB on Linux) after it exits.
  const wrapper =
    'import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); ' +
    'sys.stderr.write(r.stderr); print(r.stdout.strip()); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  const r = spawnSync(
    py,
    ['-c', wrapper, py, join(REFENV, 'time_train_step.py'), cfgPath, String(c.batch), String(c.runs)],
    {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: String(availableParallelism()) },
    },
  );
  const [median, rss] = r.stdout.trim().split('\n').slice(-2).map(Number);
  if (r.status !== 0 || !Number.isFinite(median)) throw new Error(`time_train_step.py failed: ${r.stderr}`);
  return { ms: median * 1000, maxRssMiB: rss / 1024 };
}

/** The bundled model's step, profiled by onnxruntime: kernel time per op type and per part, ms per step. */
interface StepProfile {
  convPath: Path;
  stepMs: number;
  byOp: Record<string, number>;
  byPart: Record<string, number>;
}

/**
 * Which part of the step a node belongs to, from its name: forward nodes carry their module path, the backward's
 * `grad/…`, a composite's adjoint `grad.<kind>/…` (GraphBuilder.composite), a convolution's input and weight
 * gradients `grad.InputGrad/…` and `grad.WeightGrad/…` (the Conv rule); the lowered convolutions keep their node's
 * name. Nodes onnxruntime creates or moves while it optimises (a transpose pushed up into the forward, a
 * weight's reorder) carry new names and count as forward.
 */
function partOf(name: string, op: string): string {
  const back = name.startsWith('grad');
  const m = /^grad\.(\w+)\//.exec(name);
  if (m?.[1] === 'InputGrad') return 'backward: conv input gradients (dx)';
  if (m?.[1] === 'WeightGrad') return 'backward: conv weight gradients (dW)';
  if (m) return `backward: ${m[1]} adjoint`;
  if (op === 'ReorderInput' || op === 'ReorderOutput') return 'NCHWc reorders of activations';
  if (op === 'Conv' || op === 'FusedConv' || op === 'ConvTranspose')
    return back ? 'backward: convolutions' : 'forward: convolutions';
  if (back && (op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm'))
    return 'backward: other matrix products';
  if (back && ['Slice', 'Transpose', 'Concat', 'Pad', 'Unsqueeze', 'Reshape', 'Split'].includes(op))
    return 'backward: other data movement';
  return back ? 'backward: other ops' : 'forward: other ops';
}

async function profileCase(c: Case, convPath: Path): Promise<StepProfile> {
  const cfg = resolveUnetConfig(c.config());
  const size = cfg.sample_size as number;
  const params = new Map([...randomStateDict(cfg, 1)].map(([k, t]) => [k, t.data]));
  const g = new Generator().manualSeed(1);
  const x0 = Float32Array.from({ length: c.batch * cfg.in_channels * size * size }, () => g.nextFloat());
  const dir = mkdtempSync(join(tmpdir(), 'train-profile-'));
  const dsm = await DsmStepGraph.create(cfg, {
    batchSize: c.batch,
    height: size,
    width: size,
    convPath,
    profileFilePrefix: join(dir, 'step'),
  });
  const runs = c.runs;
  const wall: number[] = [];
  try {
    for (let i = 0; i < c.warmup + runs; i++) {
      const noise = drawNoise(g, [c.batch, cfg.in_channels, size, size], 0.01, 50);
      const t0 = performance.now();
      await dsm.run(params, { x0, sigma: noise.sigma, z: noise.z });
      wall.push(performance.now() - t0);
    }
  } finally {
    await dsm.release();
  }
  const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')) as {
    cat: string;
    name: string;
    dur: number;
    args?: { op_name?: string };
  }[];
  rmSync(dir, { recursive: true, force: true });
  // Kernel events of the runs after warm-up: the profile holds every run in order.
  const runEvents = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').length;
  const byOp: Record<string, number> = {};
  const byPart: Record<string, number> = {};
  let seen = 0;
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') seen++;
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
    if (seen < runEvents - runs) continue; // a run's model_run event comes after its nodes' events
    const ms = e.dur / 1000 / runs;
    byOp[e.args.op_name] = (byOp[e.args.op_name] ?? 0) + ms;
    const part = partOf(e.name.replace(/_kernel_time$/, ''), e.args.op_name);
    byPart[part] = (byPart[part] ?? 0) + ms;
  }
  return { convPath, stepMs: median(wall.slice(c.warmup)), byOp, byPart };
}

function spawnJson<T>(args: string[]): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/**
 * The profile the code before the blocked path and the composite adjoints measured (bench/results/
 * train-step-profile-before.json, written once by this same method on its commit and machine), for the table's
 * "before" column; undefined when absent.
 */
const BEFORE = fileURLToPath(new URL('./results/train-step-profile-before.json', import.meta.url));
function profileBefore(): (StepProfile & { label: string }) | undefined {
  try {
    return JSON.parse(readFileSync(BEFORE, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The profile table: op types (and parts) by their time before, and now on the standard and the blocked path. */
function profileTable(
  key: 'byOp' | 'byPart',
  columns: (StepProfile | undefined)[],
  top: number,
  what: string,
): string[] {
  const total = (x?: StepProfile) => (x ? Object.values(x[key]).reduce((a, v) => a + v, 0) : 0);
  const names = new Set(columns.flatMap((x) => Object.keys(x?.[key] ?? {})));
  const lead = columns.find((x) => x !== undefined);
  const sorted = [...names].sort((a, b) => (lead?.[key][b] ?? 0) - (lead?.[key][a] ?? 0));
  const shown = sorted.slice(0, top);
  const rest = sorted.slice(shown.length);
  const cell = (x: StepProfile | undefined, n: string[]) => {
    if (!x) return '– | –';
    const v = n.reduce((a, k) => a + (x[key][k] ?? 0), 0);
    return `${v.toFixed(0)} | ${((100 * v) / total(x)).toFixed(1)} %`;
  };
  const rows = shown.map((n) => `| ${n} | ${columns.map((x) => cell(x, [n])).join(' | ')} |`);
  if (rest.length)
    rows.push(`| the other ${rest.length} ${what} | ${columns.map((x) => cell(x, rest)).join(' | ')} |`);
  rows.push(`| **total kernel time** | ${columns.map((x) => `**${total(x).toFixed(0)}** |`).join(' | ')} |`);
  return rows;
}

export async function runTrainStepBench(): Promise<string> {
  const load0 = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'train-bench-'));
  const rounds = Number(process.env.ROUNDS ?? 2);
  const block = await nchwcBlockSize();
  const paths: Path[] = block === null ? ['standard'] : ['blocked', 'standard'];
  const best = new Map<string, CaseResult>();
  const torch = new Map<string, { ms: number; maxRssMiB: number }>();
  const profiles: StepProfile[] = [];
  const fashion = CASES.find((c) => c.label === 'fashion-mnist')!;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const c of CASES) {
        // The paths and PyTorch alternate, so that load on a shared machine hits them alike.
        for (const p of round % 2 === 0 ? paths : [...paths].reverse()) {
          const m = spawnJson<CaseResult>(['--case', c.label, '--conv-path', p]);
          const key = `${c.label}|${p}`;
          const prev = best.get(key);
          if (!prev || m.graphMs < prev.graphMs)
            best.set(key, { ...m, maxRssMiB: Math.max(m.maxRssMiB, prev?.maxRssMiB ?? 0) });
          else prev.maxRssMiB = Math.max(prev.maxRssMiB, m.maxRssMiB);
        }
        const t = torchStep(c, dir);
        const prev = torch.get(c.label);
        if (t && (!prev || t.ms < prev.ms)) torch.set(c.label, t);
      }
    }
    for (const p of paths)
      profiles.push(spawnJson<StepProfile>(['--profile', fashion.label, '--conv-path', p]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const rows: string[] = [];
  const split: string[] = [];
  for (const c of CASES)
    for (const p of paths) {
      const m = best.get(`${c.label}|${p}`)!;
      const t = torch.get(c.label);
      rows.push(
        `| ${c.label} | ${p} | ${(m.params / 1e6).toFixed(2)}M | ${c.batch} | ${f(m.stepMs)} | ${(1000 / m.stepMs).toFixed(2)} | ${ofPeak(m.gflopStep / (m.graphMs / 1000))} | ${m.maxRssMiB.toFixed(0)} | ${t ? f(t.ms) : '–'} | ${t ? t.maxRssMiB.toFixed(0) : '–'} | ${t ? `${(t.ms / m.stepMs).toFixed(2)}×` : '–'} |`,
      );
      split.push(
        `| ${c.label} | ${p} | ${c.batch} | ${f(m.forwardMs)} | ${f(m.forwardInputsMs)} | ${f(m.graphMs)} | ${((m.graphMs - m.forwardInputsMs) / m.forwardInputsMs).toFixed(2)} | ${(m.graphMs / m.forwardMs).toFixed(2)} | ${f(m.hostMs)} | ${m.gflopForward.toFixed(2)} | ${m.gflopStep.toFixed(2)} |`,
      );
    }
  const load1 = loadavg()[0];
  const busy =
    Math.max(load0, load1) > availableParallelism()
      ? ' **The load exceeded the core count: absolute times, and the ratio to PyTorch (whose OpenMP threads suffer most from oversubscription), are not meaningful; rerun `npm run bench -- train-step` on a quiet machine.**'
      : '';
  const profMs = (p: Path) => profiles.find((x) => x.convPath === p)?.stepMs;
  const before = profileBefore();
  const columns: [string, StepProfile | undefined][] = [
    ...(before ? [['before', before] as [string, StepProfile]] : []),
    ['standard', profiles.find((x) => x.convPath === 'standard')],
    ['blocked', profiles.find((x) => x.convPath === 'blocked')],
  ];
  return [
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; Node ${process.version}; onnxruntime-node ${ort.env.versions.node ?? '?'}; NCHWc block ${block ?? 'none (standard path only)'}. Load average at start/end: ${load0.toFixed(1)} / ${load1.toFixed(1)} (a shared VM: times rise with other load). ${peakSentence()}${busy}`,
    '',
    `One training step as \`train()\` runs it: t and z drawn, forward + DSM loss + backward in one onnxruntime graph (parameters fed as inputs), then clip_grad_norm_ + Adam + EMA on the host in torch-exact float32. Conv path: **blocked** (the default where onnxruntime has the NCHWc kernels: the step graph's convolutions, forward and input-gradient, rewritten to them with the weights reordered inside the graph; src/onnx/nchwc.ts) or **standard** (the same graph on standard ops, as earlier versions ran it and as onnxruntime-web runs it). Random weights; each case ran in its own process, ${rounds} rounds with the paths and PyTorch alternating, and the row keeps the round with the faster median step graph (peak RSS: the highest). GFLOP/s = the step graph's FLOPs (2 × MACs of Conv, ConvTranspose, MatMul, Gemm) over the graph's time. Peak RSS = the process's maximum resident set. PyTorch: \`time_train_step.py\` (diffusers v0.23.0, torch 1.13, same step, same threads) run in this bench's run. Debian's torch runs convolutions on oneDNN but the matrix products of attention on the reference BLAS, so the ratio depends on how much of a model is attention: the row without attention compares the convolution paths alone. A torch with an optimised BLAS (MKL, as in the official wheels) would close much of the gap on the other rows.`,
    '',
    '| model | conv path | params | batch | ms / step | steps/s | GFLOP/s (% of FMA peak) | peak RSS MiB | PyTorch ms / step | PyTorch peak RSS MiB | speed-up |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    "Where the time goes (ms): the forward alone, same batch, as sampling runs it (`UNet2DModel.forward`: weights constant, which onnxruntime pre-packs and runs on its own NCHWc kernels) and as the step graph holds it (weights as graph inputs, on the row's conv path, idle threads not spinning: one session serves every step, and spinning threads made a step ~3× slower on a busy 2-core machine); the step graph (forward + loss + backward); backward / forward = (step graph − the forward with weights as inputs) / that forward, the in-graph ratio; step graph / sampling forward, what a step costs in forwards; and the host update (clip + Adam + EMA).",
    '',
    '| model | conv path | batch | forward (weights constant) | forward (weights as inputs) | step graph | backward / forward | step graph / forward | host update | GFLOP forward | GFLOP step |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...split,
    '',
    `The bundled model's step graph at batch ${fashion.batch} under onnxruntime's profiler (${fashion.runs} runs after ${fashion.warmup} warm-up, ms per step of kernel time; the profiler itself slows a step: ${paths.map((p) => `${p} ${f(profMs(p) ?? Number.NaN)} ms`).join(', ')} per profiled step)${before ? `, and the same profile of the code before the blocked path and the composite adjoints (${before.label}; ${f(before.stepMs)} ms per profiled step)` : ''}. Op types as onnxruntime runs them after its fusions (FusedMatMul: MatMul with a transpose or scale folded in; FusedConv: Conv with its activation or Add; on the blocked path "Conv" is mostly the NCHWc kernel, with ReorderInput/ReorderOutput converting layouts around it):`,
    '',
    `| op type | ${columns.map(([label]) => `${label} ms | share`).join(' | ')} |`,
    `| --- | ${columns.map(() => '--- | ---').join(' | ')} |`,
    ...profileTable(
      'byOp',
      columns.map(([, x]) => x),
      16,
      'op types',
    ),
    '',
    "The same by part of the step (from the node names: the forward's module paths, the backward's `grad/…`, a convolution's input and weight gradients `grad.InputGrad/…` and `grad.WeightGrad/…`, a composite op's adjoint `grad.<kind>/…`; the code before named neither, so its dx, dW and composite backward fall under the backward's other rows):",
    '',
    `| part | ${columns.map(([label]) => `${label} ms | share`).join(' | ')} |`,
    `| --- | ${columns.map(() => '--- | ---').join(' | ')} |`,
    ...profileTable(
      'byPart',
      columns.map(([, x]) => x),
      100,
      'parts',
    ),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const label = arg('--case') ?? arg('--profile');
  const convPath = (arg('--conv-path') ?? 'blocked') as Path;
  if (label !== undefined) {
    const c = CASES.find((x) => x.label === label);
    if (!c) throw new Error(`unknown case ${label}`);
    (arg('--case') !== undefined ? runCase(c, convPath) : profileCase(c, convPath)).then((r) =>
      console.log(JSON.stringify(r)),
    );
  } else {
    runTrainStepBench().then(
      (md) => console.log(md),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  }
}
