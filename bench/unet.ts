/**
 * UNet2DModel forward benchmark: median time after warm-up, GFLOP/s from the built graph's FLOP count,
 * share of the machine's FMA peak, and the ratio to diffusers on PyTorch 1.13 CPU (test/fixtures/TIMINGS.md).
 * Also profiles one celebahq-256 forward with onnxruntime's profiler, by op type.
 *
 *   node --import tsx bench/unet.ts        prints the markdown section
 */

import { readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { buildUnetGraph } from '../src/models/unet-2d/build.js';
import { randomStateDict, resolveUnetConfig, UNet2DModel } from '../src/models/unet-2d/index.js';
import { fourierArgument } from '../src/models/unet-2d/time.js';
import { ParamTable } from '../src/models/unet-2d/weights.js';
import { OnnxSession } from '../src/onnx/session.js';
import { Tensor } from '../src/tensor.js';
import { ofPeak, peakSentence } from './peak.js';

const MODELS = fileURLToPath(new URL('../test/fixtures/models/', import.meta.url));

interface Case {
  label: string;
  load: () => Promise<UNet2DModel>;
  batch: number;
  size: number;
  warmup: number;
  runs: number;
  /** diffusers v0.23.0 on PyTorch 1.13 CPU, reference BLAS (TIMINGS.md), ms. */
  torchMs: number;
}

async function realConfigModel(name: string): Promise<UNet2DModel> {
  const raw = JSON.parse(await readFile(`${MODELS}real-configs/${name}/config.json`, 'utf8'));
  return UNet2DModel.fromConfig(raw, randomStateDict(resolveUnetConfig(raw), 1));
}

const CASES: Case[] = [
  {
    label: 'tiny-ddpm',
    load: () => UNet2DModel.fromPretrained(`${MODELS}tiny-ddpm`),
    batch: 1,
    size: 32,
    warmup: 3,
    runs: 21,
    torchMs: 120,
  },
  {
    label: 'tiny-ncsnpp',
    load: () => UNet2DModel.fromPretrained(`${MODELS}tiny-ncsnpp`),
    batch: 1,
    size: 32,
    warmup: 3,
    runs: 21,
    torchMs: 40,
  },
  {
    label: 'tiny-ncsnpp',
    load: () => UNet2DModel.fromPretrained(`${MODELS}tiny-ncsnpp`),
    batch: 4,
    size: 32,
    warmup: 3,
    runs: 15,
    torchMs: 57,
  },
  {
    label: 'ncsnpp-celebahq-256',
    load: () => realConfigModel('ncsnpp-celebahq-256'),
    batch: 1,
    size: 256,
    warmup: 1,
    runs: 5,
    torchMs: 5350,
  },
  {
    label: 'ncsnpp-ffhq-1024',
    load: () => realConfigModel('ncsnpp-ffhq-1024'),
    batch: 1,
    size: 1024,
    warmup: 1,
    runs: 3,
    torchMs: 12800,
  },
];

function input(batch: number, size: number): Tensor<'float32'> {
  const x = new Float32Array(batch * 3 * size * size);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898) * 50;
  return new Tensor('float32', x, [batch, 3, size, size]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeCase(c: Case): Promise<string> {
  const unet = await c.load();
  try {
    const x = input(c.batch, c.size);
    const sigma = new Float32Array(c.batch).fill(50);
    for (let i = 0; i < c.warmup; i++) await unet.forward(x, sigma);
    const times: number[] = [];
    for (let i = 0; i < c.runs; i++) {
      const t0 = performance.now();
      await unet.forward(x, sigma);
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    const gflop = unet.flopsPerForward(c.batch) / 1e9;
    const gflops = gflop / (ms / 1000);
    const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
    return `| ${c.label} | ${c.batch} | ${gflop.toFixed(3)} | ${fmt(ms)} (${fmt(Math.min(...times))}–${fmt(Math.max(...times))}) | ${ofPeak(gflops)} | ${fmt(c.torchMs)} | ${(c.torchMs / ms).toFixed(2)}× |`;
  } finally {
    await unet.release();
  }
}

/** One profiled celebahq-256 forward: onnxruntime node time summed by op type. */
export async function profileCelebahq(): Promise<string> {
  const raw = JSON.parse(await readFile(`${MODELS}real-configs/ncsnpp-celebahq-256/config.json`, 'utf8'));
  const cfg = resolveUnetConfig(raw);
  const sd = randomStateDict(cfg, 1);
  const g = buildUnetGraph(cfg, new ParamTable(sd), { height: 256, width: 256 });
  const dir = tmpdir();
  const prefix = join(dir, `unet-profile-${process.pid}`);
  const session = await OnnxSession.create(g.toModelBytes(), { profileFilePrefix: prefix });
  const sigma = Float32Array.of(50);
  const feeds = {
    sample: input(1, 256),
    time_arg: new Tensor('float32', fourierArgument(sigma, sd.get('time_proj.weight')!.data), [1, 128]),
    timesteps: new Tensor('float32', sigma, [1, 1, 1, 1]),
  };
  await session.run(feeds); // warm-up (also profiled; only the last run is summed)
  await session.run(feeds);
  session.endProfiling();
  await session.release();
  const file = (await readdir(dir))
    .filter((f) => f.startsWith(`unet-profile-${process.pid}`))
    .map((f) => join(dir, f))[0];
  const events = JSON.parse(await readFile(file, 'utf8')) as {
    cat: string;
    name: string;
    dur: number;
    args?: { op_name?: string };
  }[];
  await rm(file, { force: true });
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const last = runs[runs.length - 1] as unknown as { ts: number; dur: number };
  const byOp = new Map<string, { us: number; n: number }>();
  for (const e of events as unknown as {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string };
  }[]) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < last.ts) continue;
    const op = e.args?.op_name ?? '?';
    const s = byOp.get(op) ?? { us: 0, n: 0 };
    s.us += e.dur;
    s.n++;
    byOp.set(op, s);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b.us, 0);
  const rows = [...byOp].sort((a, b) => b[1].us - a[1].us);
  const lines = [
    `Profile of one celebahq-256 forward (onnxruntime profiler, kernel time by op type; run total ${(last.dur / 1000).toFixed(0)} ms, kernels ${(total / 1000).toFixed(0)} ms):`,
    '',
    '| op | nodes | ms | share |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      ([op, s]) =>
        `| ${op} | ${s.n} | ${(s.us / 1000).toFixed(1)} | ${((100 * s.us) / total).toFixed(1)} % |`,
    ),
  ];
  return lines.join('\n');
}

export async function runUnetBench(): Promise<string> {
  const load0 = loadavg()[0];
  const rows: string[] = [];
  for (const c of CASES) rows.push(await timeCase(c));
  const profile = await profileCelebahq();
  const load1 = loadavg()[0];
  return [
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; Node ${process.version}; onnxruntime-node ${ort.env.versions.node ?? '?'} (CPU provider, graph optimisation 'all', ${availableParallelism()} intra-op threads). Load average at start/end: ${load0.toFixed(1)} / ${load1.toFixed(1)} (a shared VM: times rise with other load). ${peakSentence()}`,
    '',
    "Forward pass `unet.forward(x, σ=50)`, float32, random input ×50. GFLOP = 2 × MACs of the graph's Conv/MatMul/Gemm nodes (the count TIMINGS.md uses). Median over the runs after warm-up (min–max in brackets). PyTorch: diffusers v0.23.0 on torch 1.13 CPU, 2 threads, reference BLAS (TIMINGS.md).",
    '',
    '| model | batch | GFLOP | ms (min–max) | GFLOP/s (% of the FMA peak measured here) | PyTorch ms | speed-up |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    profile,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runUnetBench().then(
    (md) => console.log(md),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
