/**
 * An onnxruntime-web session built from model bytes (the browser twin of `OnnxSession`): wasm with SIMD,
 * threads when the page is cross-origin isolated, and WebGPU where the browser has an adapter.
 * The onnxruntime-web module is passed in, so the page decides which build it loads and from where.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { Tensor } from '../tensor.js';
import { type GraphRunner, ORT_DTYPES } from './runner.js';

export type WebExecutionProvider = 'wasm' | 'webgpu';

export interface WebOnnxSessionOptions {
  /** Providers in order of preference; default ['wasm']. 'webgpu' needs a browser adapter (see `webGpuAvailable`). */
  executionProviders?: readonly WebExecutionProvider[];
}

/** Whether this browser exposes a WebGPU adapter (false outside browsers or when the GPU is blocked). */
export async function webGpuAvailable(): Promise<boolean> {
  const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator;
  const gpu = nav?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

export class WebOnnxSession implements GraphRunner {
  private constructor(
    private readonly ort: typeof OrtWeb,
    private session: OrtWeb.InferenceSession | null,
    readonly executionProviders: readonly WebExecutionProvider[],
  ) {}

  get inputNames(): readonly string[] {
    return this.session?.inputNames ?? [];
  }

  get outputNames(): readonly string[] {
    return this.session?.outputNames ?? [];
  }

  static async create(
    ort: typeof OrtWeb,
    modelBytes: Uint8Array,
    options: WebOnnxSessionOptions = {},
  ): Promise<WebOnnxSession> {
    const eps = options.executionProviders ?? ['wasm'];
    for (const ep of eps) {
      if (ep !== 'wasm' && ep !== 'webgpu')
        throw new RangeError(`executionProviders: unknown provider "${ep}" (use 'wasm' or 'webgpu')`);
    }
    if (eps.includes('webgpu') && !(await webGpuAvailable()))
      throw new Error(
        "executionProviders: 'webgpu' was requested but this browser exposes no WebGPU adapter",
      );
    let session: OrtWeb.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelBytes, {
        executionProviders: [...eps],
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (e) {
      throw new Error(
        `onnxruntime-web could not create a session with providers [${eps.join(', ')}]: ${(e as Error).message ?? e}`,
      );
    }
    return new WebOnnxSession(ort, session, eps);
  }

  async run(
    feeds: Record<string, Tensor>,
    outputNames: readonly string[] = this.outputNames,
  ): Promise<Map<string, Tensor>> {
    const session = this.session;
    if (!session) throw new Error('WebOnnxSession: run() after release()');
    const ortFeeds: Record<string, OrtWeb.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (!ORT_DTYPES.has(t.dtype))
        throw new TypeError(`WebOnnxSession: input "${name}" has unsupported dtype ${t.dtype}`);
      ortFeeds[name] = new this.ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
    }
    const results = await session.run(ortFeeds, [...outputNames]);
    const out = new Map<string, Tensor>();
    for (const name of outputNames) {
      const r = results[name];
      // WebGPU outputs may live on the GPU: getData() downloads them; wasm outputs are already on the CPU.
      const data = r.location === 'cpu' ? r.data : await r.getData(true);
      out.set(name, new Tensor(r.type as 'float32', data as Float32Array, r.dims));
    }
    return out;
  }

  /** Frees the session. Further run() calls throw. */
  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}
