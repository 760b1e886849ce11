/**
 * Browser speed: ms per UNet2DModel forward on onnxruntime-web (wasm SIMD, 1 thread and all cores) in
 * headless Chromium, beside onnxruntime-node (native) on the same inputs, and WebGPU where the browser
 * exposes an adapter. Uses the demo build (scripts/build-web.mjs) and web/bench.ts.
 *
 *   node --import tsx bench/web.ts        prints the markdown section
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UNet2DModel } from '../src/models/unet-2d/index.js';
import { Generator, randnTensor } from '../src/random/index.js';
import type { Tensor } from '../src/tensor.js';
import { chromiumMissing, launchChromium, startDemo } from '../test/web/browser.js';

const MODELS = fileURLToPath(new URL('../test/fixtures/models/', import.meta.url));
const RUNS = 20;

interface BenchResult {
  firstMs: number;
  ms: number[];
  webgpuAdapter: boolean;
  error?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

async function nodeMs(model: string, batch: number): Promise<number[]> {
  const unet = await UNet2DModel.fromPretrained(`${MODELS}${model}`);
  const x = randnTensor([batch, 3, 32, 32], {
    generator: new Generator().manualSeed(0),
  }) as Tensor<'float32'>;
  const sigma = new Float32Array(batch).fill(10);
  for (let i = 0; i < 3; i++) await unet.forward(x, sigma);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await unet.forward(x, sigma);
    ms.push(performance.now() - t);
  }
  await unet.release();
  return ms;
}

export async function runWebBench(): Promise<string> {
  const missing = chromiumMissing();
  if (missing) return `Not measured: ${missing}.`;
  const cores = availableParallelism();
  const server = await startDemo();
  const chromium = await launchChromium();
  const version = chromium.browser.version();
  const browserRun = async (query: string): Promise<BenchResult> => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}bench.html?${query}&runs=${RUNS}`);
      await page.waitForFunction(() => (globalThis as { benchResult?: unknown }).benchResult, null, {
        timeout: 300_000,
      });
      return await page.evaluate(() => (globalThis as unknown as { benchResult: BenchResult }).benchResult);
    } finally {
      await context.close();
    }
  };
  const rows: string[] = [];
  let adapter = false;
  try {
    for (const [model, batch] of [
      ['tiny-ncsnpp', 1],
      ['tiny-ncsnpp', 4],
    ] as const) {
      const native = await nodeMs(model, batch);
      const wasm1 = await browserRun(`model=models/${model}/&batch=${batch}&threads=1`);
      const wasmN = await browserRun(`model=models/${model}/&batch=${batch}&threads=${cores}`);
      const full1 = await browserRun(`model=models/${model}/&batch=${batch}&threads=1&build=full`);
      adapter ||= wasm1.webgpuAdapter;
      for (const r of [wasm1, wasmN, full1]) if (r.error) throw new Error(`browser bench: ${r.error}`);
      const n = median(native);
      const nMin = Math.min(...native);
      const cell = (r: BenchResult) =>
        `${fmt(median(r.ms))} (${fmt(Math.min(...r.ms))}) | ${(median(r.ms) / n).toFixed(1)}× (${(Math.min(...r.ms) / nMin).toFixed(1)}×)`;
      rows.push(
        `| ${model} | ${batch} | ${fmt(n)} (${fmt(Math.min(...native))}) | ${cell(wasm1)} | ${cell(wasmN)} | ${fmt(wasm1.firstMs)} | ${cell(full1)} | ${fmt(full1.firstMs)} |`,
      );
      if (wasm1.webgpuAdapter) {
        const gpu = await browserRun(`model=models/${model}/&batch=${batch}&ep=webgpu`);
        rows.push(
          `| ${model} (WebGPU) | ${batch} | | ${gpu.error ?? `${fmt(median(gpu.ms))} (${fmt(Math.min(...gpu.ms))})`} | | |`,
        );
      }
    }
  } finally {
    await chromium.close();
    await server.close();
  }
  const [l1] = loadavg();
  return [
    `Headless Chromium ${version} (Debian) on ${cpus()[0]?.model ?? 'this CPU'}, ${cores} cores (load average ${l1.toFixed(1)} when the run ended),`,
    `onnxruntime-web ${await ortWebVersion()} wasm (SIMD; threads need the page to be cross-origin isolated, which \`npm run web\` does)`,
    `against onnxruntime-node (all cores) on the same machine. ms per UNet forward: median (min) of ${RUNS} after 3 warm-up calls;`,
    '÷ native: wasm ÷ native of the medians (of the minima, the better estimate when the machine is shared and loaded).',
    '"first call" is the first forward in the page: graph build, wasm compile of the session and one run.',
    'The wasm columns use the wasm-only build (`onnxruntime-web/wasm`, as the demo does); "full build" is the default',
    '`onnxruntime-web` import (wasm + WebGPU, a runtime twice the size) running the same wasm kernels, 1 thread.',
    '',
    `| model | batch | Node native ms | wasm 1 thread ms | ÷ native | wasm ${cores} threads ms | ÷ native | first call ms | full build 1 thread ms | ÷ native | its first call ms |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    adapter
      ? 'WebGPU: the headless browser exposed an adapter; its row is above.'
      : 'WebGPU: not measured. Headless Chromium on this machine (no GPU, launched with `--disable-gpu`) exposes no WebGPU adapter (`navigator.gpu.requestAdapter()` → null); the demo and `WebOnnxSession` use WebGPU when a browser does.',
  ].join('\n');
}

async function ortWebVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(
    await readFile(new URL('../node_modules/onnxruntime-web/package.json', import.meta.url), 'utf8'),
  );
  return pkg.version as string;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await runWebBench());
}
