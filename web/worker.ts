/**
 * The demo's sampling worker: loads the model with onnxruntime-web and runs generation / inpainting off
 * the main thread, posting a preview after every step. Cancel aborts between UNet calls.
 */
import * as ortWasm from 'onnxruntime-web/wasm';
import { toClampedNHWC } from '../src/pipelines/images.js';
import {
  type PipelineImage,
  type SamplerStep,
  Tensor,
  WebScoreSdeVePipeline,
  webGpuAvailable,
} from '../src/web/index.js';
import { toImages } from '../src/web/pipeline.js';
import type { FromWorker, RgbaImage, ToWorker } from './protocol.js';

declare const self: {
  location: { href: string };
  crossOriginIsolated?: boolean;
  navigator: { hardwareConcurrency?: number };
  postMessage(msg: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
};

// Threads need SharedArrayBuffer, i.e. a cross-origin isolated page (the demo server sends COOP/COEP).
const threads = self.crossOriginIsolated
  ? Math.max(1, Math.min(4, self.navigator.hardwareConcurrency ?? 1))
  : 1;

/**
 * The onnxruntime-web build to use: the wasm-only one (a 14 MB runtime, half the start-up time of the
 * WebGPU-capable build), or the full build (wasm + WebGPU, 28 MB), loaded only when WebGPU is used.
 */
async function runtime(webgpu: boolean): Promise<typeof ortWasm> {
  const ort = webgpu ? ((await import('onnxruntime-web')) as typeof ortWasm) : ortWasm;
  ort.env.wasm.wasmPaths = new URL('./ort/', self.location.href).href;
  ort.env.wasm.numThreads = threads;
  return ort;
}

let pipe: WebScoreSdeVePipeline | null = null;
let running: AbortController | null = null;

const post = (msg: FromWorker, transfer: Transferable[] = []) => self.postMessage(msg, transfer);

function rgba(images: PipelineImage[]): RgbaImage[] {
  return images.map((im) => {
    const data = new Uint8ClampedArray(im.width * im.height * 4);
    for (let p = 0; p < im.width * im.height; p++) {
      data[p * 4] = im.data[p * 3];
      data[p * 4 + 1] = im.data[p * 3 + 1];
      data[p * 4 + 2] = im.data[p * 3 + 2];
      data[p * 4 + 3] = 255;
    }
    return { width: im.width, height: im.height, data };
  });
}

function onStep(s: SamplerStep): void {
  // The denoiser's noise-free estimate (every sampler reports one): a picture from the first step on.
  const preview = rgba(toImages(toClampedNHWC(s.denoised ?? s.sampleMean ?? s.sample)));
  post(
    { type: 'step', step: s.step, totalSteps: s.totalSteps, sigma: s.sigma, nfe: s.nfe, preview },
    preview.map((p) => p.data.buffer),
  );
}

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === 'cancel') {
    running?.abort();
    return;
  }
  if (msg.type === 'load') {
    await pipe?.release();
    pipe = null;
    const webgpu = msg.webgpu && (await webGpuAvailable());
    pipe = await WebScoreSdeVePipeline.fromPretrained(msg.source, {
      ort: await runtime(webgpu),
      executionProviders: webgpu ? ['webgpu', 'wasm'] : ['wasm'],
      onProgress: (p) =>
        post({
          type: 'load-progress',
          file: p.url,
          loaded: p.loaded,
          total: p.total,
          fromCache: p.fromCache,
        }),
    });
    const [height, width] = pipe.sampleSize;
    post({
      type: 'loaded',
      width,
      height,
      parameters: pipe.unet.parameterCount,
      backend: webgpu ? 'webgpu' : 'wasm',
      threads,
      webgpuAdapter: await webGpuAvailable(),
    });
    return;
  }
  if (!pipe) throw new Error('no model is loaded');
  running = new AbortController();
  const t0 = performance.now();
  try {
    const common = {
      steps: msg.steps,
      seed: msg.seed,
      batchSize: msg.batchSize,
      onStep,
      signal: running.signal,
    };
    const [h, w] = pipe.sampleSize;
    const out =
      msg.type === 'generate'
        ? await pipe.generate({
            ...common,
            sampler: msg.sampler,
            samplerOptions: {
              ...(msg.sampler === 'heun' ? { churn: msg.churn } : {}),
              ...(msg.gaussianNormAbove !== undefined ? { gaussianNormAbove: msg.gaussianNormAbove } : {}),
              ...(msg.gaussianAbove !== undefined ? { gaussianAbove: msg.gaussianAbove } : {}),
            },
          })
        : await pipe.inpaint({
            ...common,
            image: new Tensor('float32', msg.image, [1, 3, h, w]),
            mask: new Tensor('float32', msg.mask, [1, 1, h, w]),
          });
    const images = rgba(out.images);
    post(
      {
        type: 'done',
        images,
        sample: out.sample.data,
        np: out.np.data,
        npDims: [...out.np.dims],
        nfe: out.nfe,
        seconds: (performance.now() - t0) / 1000,
      },
      [...images.map((p) => p.data.buffer), out.np.data.buffer, out.sample.data.buffer],
    );
  } finally {
    running = null;
  }
}

self.onmessage = (e) => {
  handle(e.data).catch((err: Error) => {
    if (err?.name === 'AbortError') post({ type: 'cancelled' });
    else post({ type: 'error', message: err?.message ?? String(err) });
  });
};
