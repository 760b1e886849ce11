/**
 * Times UNet2DModel forwards on onnxruntime-web (bench/web.ts opens this page in headless Chromium).
 * Query: ?model=<folder url>&batch=1&threads=1&ep=wasm|webgpu&build=wasm|full&runs=20 (build: the
 * onnxruntime-web build for ep=wasm; WebGPU always uses the full one). Result in globalThis.benchResult.
 */
import * as ortWasm from 'onnxruntime-web/wasm';
import {
  Generator,
  randnTensor,
  type Tensor,
  WebScoreSdeVePipeline,
  webGpuAvailable,
} from '../src/web/index.js';

interface BenchResult {
  ep: string;
  threads: number;
  batch: number;
  /** First forward: graph build + session creation + run. */
  firstMs: number;
  ms: number[];
  webgpuAdapter: boolean;
  error?: string;
}

const q = new URLSearchParams(location.search);
const g = globalThis as unknown as { benchResult?: BenchResult };

async function main(): Promise<BenchResult> {
  const ep = (q.get('ep') ?? 'wasm') as 'wasm' | 'webgpu';
  const threads = Number(q.get('threads') ?? 1);
  const batch = Number(q.get('batch') ?? 1);
  const runs = Number(q.get('runs') ?? 20);
  // As the demo: the wasm-only build for wasm, the full build (wasm + WebGPU) for WebGPU.
  const full = ep === 'webgpu' || q.get('build') === 'full';
  const ort = full ? ((await import('onnxruntime-web')) as typeof ortWasm) : ortWasm;
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
  ort.env.wasm.numThreads = threads;
  const webgpuAdapter = await webGpuAvailable();
  const base = { ep, threads, batch, webgpuAdapter, firstMs: 0, ms: [] };
  if (ep === 'webgpu' && !webgpuAdapter) return { ...base, error: 'no WebGPU adapter' };
  const pipe = await WebScoreSdeVePipeline.fromPretrained(
    { url: new URL(q.get('model') ?? 'models/tiny-ncsnpp/', location.href).href },
    { ort, executionProviders: [ep], cache: false },
  );
  const [h, w] = pipe.sampleSize;
  const x = randnTensor([batch, 3, h, w], { generator: new Generator().manualSeed(0) }) as Tensor<'float32'>;
  const sigma = new Float32Array(batch).fill(10);
  let t = performance.now();
  await pipe.unet.forward(x, sigma);
  const firstMs = performance.now() - t;
  for (let i = 0; i < 3; i++) await pipe.unet.forward(x, sigma);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    t = performance.now();
    await pipe.unet.forward(x, sigma);
    ms.push(performance.now() - t);
  }
  await pipe.release();
  return { ...base, firstMs, ms };
}

main().then(
  (r) => {
    g.benchResult = r;
  },
  (e: Error) => {
    g.benchResult = {
      ep: '',
      threads: 0,
      batch: 0,
      firstMs: 0,
      ms: [],
      webgpuAdapter: false,
      error: e.message,
    };
  },
);
