/**
 * An onnxruntime-node session built from model bytes, with the settings that run this project's graphs
 * fastest on CPU (full graph optimisation, one intra-op thread per core), feeding and returning Tensors.
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { Tensor } from '../tensor.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface OnnxSessionOptions {
  /** Providers in order of preference; default ['cpu']. 'cuda' needs onnxruntime-node's CUDA build. */
  executionProviders?: readonly ExecutionProvider[];
  /** Intra-op threads; default: the number of cores. */
  intraOpThreads?: number;
  /** Write an onnxruntime profile (JSON) whose file name starts with this prefix; see `endProfiling()`. */
  profileFilePrefix?: string;
}

const ORT_DTYPES = new Set(['float32', 'int64', 'int32', 'float64', 'uint8', 'bool']);

/** Throws a clear error when a requested provider is not in this onnxruntime-node build. */
export function checkExecutionProviders(eps: readonly string[]): void {
  const backends = ort.listSupportedBackends();
  for (const ep of eps) {
    if (ep !== 'cpu' && ep !== 'cuda')
      throw new RangeError(`executionProviders: unknown provider "${ep}" (use 'cpu' or 'cuda')`);
    const b = backends.find((x) => x.name === ep);
    if (!b) {
      throw new Error(
        `executionProviders: '${ep}' is not available in this onnxruntime-node build ` +
          `(available: ${backends.map((x) => x.name).join(', ')}). For 'cuda' install onnxruntime-node's CUDA ` +
          'binaries (npm install onnxruntime-node --onnxruntime-node-install=cuda12) and the CUDA 12 runtime.',
      );
    }
  }
}

export class OnnxSession {
  private constructor(
    private session: ort.InferenceSession | null,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async create(modelBytes: Uint8Array, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
    const eps = options.executionProviders ?? ['cpu'];
    checkExecutionProviders(eps);
    const threads = options.intraOpThreads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`intraOpThreads must be a positive integer, got ${threads}`);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelBytes, {
        executionProviders: [...eps],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        enableProfiling: options.profileFilePrefix !== undefined,
        profileFilePrefix: options.profileFilePrefix,
        logSeverityLevel: 3,
      });
    } catch (e) {
      const hint = eps.includes('cuda')
        ? ' (is the CUDA runtime that onnxruntime-node needs installed?)'
        : '';
      throw new Error(
        `onnxruntime could not create a session with providers [${eps.join(', ')}]${hint}: ${(e as Error).message}`,
      );
    }
    return new OnnxSession(session, session.inputNames, session.outputNames);
  }

  /** Runs the graph; returns the requested outputs (all by default) as Tensors. */
  async run(
    feeds: Record<string, Tensor>,
    outputNames: readonly string[] = this.outputNames,
  ): Promise<Map<string, Tensor>> {
    if (!this.session) throw new Error('OnnxSession: run() after release()');
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (!ORT_DTYPES.has(t.dtype))
        throw new TypeError(`OnnxSession: input "${name}" has unsupported dtype ${t.dtype}`);
      ortFeeds[name] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
    }
    const results = await this.session.run(ortFeeds, [...outputNames]);
    const out = new Map<string, Tensor>();
    for (const name of outputNames) {
      const r = results[name];
      out.set(name, new Tensor(r.type as 'float32', r.data as Float32Array, r.dims));
    }
    return out;
  }

  /** Stops profiling (if enabled) and writes the profile file. */
  endProfiling(): void {
    this.session?.endProfiling();
  }

  /** Frees the native session. Further run() calls throw. */
  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}
