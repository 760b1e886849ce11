/**
 * An onnxruntime-node session built from model bytes, with the settings that run this project's graphs
 * fastest on CPU (full graph optimisation, one intra-op thread per core), feeding and returning Tensors.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tensor } from '../tensor.js';
import { type ConvPath, NCHWC_DOMAIN } from './nchwc.js';
import { encodeModel } from './proto.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface OnnxSessionOptions {
  /** Providers in order of preference; default ['cpu']. 'cuda' needs onnxruntime-node's CUDA build. */
  executionProviders?: readonly ExecutionProvider[];
  /** Intra-op threads; default: the number of cores. */
  intraOpThreads?: number;
  /** Write an onnxruntime profile (JSON) whose file name starts with this prefix; see `endProfiling()`. */
  profileFilePrefix?: string;
  /**
   * Let idle intra-op threads spin (onnxruntime's default, true). false makes them sleep: a little slower on an
   * idle machine, several times faster on a busy one (graphs with many parallel ops, e.g. training steps).
   */
  allowSpinning?: boolean;
  /**
   * onnxruntime's memory pattern (default true): after the first runs it places every intermediate at a planned
   * offset in one block. Off, the arena reuses freed blocks as it goes: the gradient graphs (training step,
   * likelihood VJP) then peak at about half the memory at the same speed (the bundled model's step at batch 64:
   * 1670 → 940 MiB; bench/train-step.ts), while a forward alone runs a few per cent slower.
   */
  memoryPattern?: boolean;
  /**
   * onnxruntime's own NCHWc rewrite of convolutions with constant weights (and of pools), on by default; false
   * runs every convolution on the standard kernels, as onnxruntime-web and the other providers do.
   */
  nchwcTransformer?: boolean;
}

const ORT_DTYPES = new Set(['float32', 'int64', 'int32', 'float64', 'uint8', 'bool']);

const INSTALL_HINT =
  "For 'cuda', fetch onnxruntime-node's CUDA binaries (ONNXRUNTIME_NODE_INSTALL=cuda12 node " +
  'node_modules/onnxruntime-node/script/install.js; npm install skips that download: package.json denies the ' +
  'install script in allowScripts) and install the CUDA 12 / cuDNN 9 runtime.';

/** Whether the provider's shared library sits beside onnxruntime-node's binding (undefined: layout unknown). */
function providerLibraryPresent(ep: string): boolean | undefined {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
    const names = [`libonnxruntime_providers_${ep}.so`, `onnxruntime_providers_${ep}.dll`];
    for (const napi of readdirSync(bin)) {
      const dir = join(bin, napi, process.platform, process.arch);
      if (existsSync(dir)) return names.some((n) => existsSync(join(dir, n)));
    }
  } catch {
    // Unknown install layout: leave the verdict to session creation.
  }
  return undefined;
}

/** Throws a clear error when a requested provider is not available in this onnxruntime-node install. */
export function checkExecutionProviders(eps: readonly string[]): void {
  const backends = ort.listSupportedBackends();
  for (const ep of eps) {
    if (ep !== 'cpu' && ep !== 'cuda') {
      throw new RangeError(`executionProviders: unknown provider "${ep}" (use 'cpu' or 'cuda')`);
    }
    const b = backends.find((x) => x.name === ep);
    const missing = !b || (!b.bundled && providerLibraryPresent(ep) === false);
    if (missing) {
      throw new Error(
        `executionProviders: '${ep}' is not available in this onnxruntime-node install ` +
          `(available: ${backends
            .filter((x) => x.bundled)
            .map((x) => x.name)
            .join(', ')}). ${INSTALL_HINT}`,
      );
    }
  }
}

export class OnnxSession {
  /** Runs in flight: release() waits for them, so a native session is never freed under a run. */
  private readonly running = new Set<Promise<unknown>>();

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
        enableMemPattern: options.memoryPattern ?? true,
        extra: {
          ...(options.allowSpinning === false ? { session: { intra_op: { allow_spinning: '0' } } } : {}),
          ...(options.nchwcTransformer === false
            ? { optimization: { disable_specified_optimizers: 'NchwcTransformer' } }
            : {}),
        },
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
    const pending = this.session.run(ortFeeds, [...outputNames]);
    this.running.add(pending);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await pending;
    } finally {
      this.running.delete(pending);
    }
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
    await Promise.allSettled([...this.running]);
    await s?.release();
  }
}

let blockSize: Promise<number | null> | undefined;

/**
 * The channel block of onnxruntime's NCHWc kernels on this machine (16 with AVX-512, 8 with AVX2), or null where
 * they are missing. Probed once per process with a one-node session: `ReorderInput` of 4 channels pads them to one
 * block, so the output's channel count is the block size.
 */
export function nchwcBlockSize(): Promise<number | null> {
  blockSize ??= (async () => {
    const bytes = encodeModel({
      irVersion: 8,
      opsetVersion: 17,
      extraOpsets: [{ domain: NCHWC_DOMAIN, version: 1 }],
      producerName: 'scoresde',
      graph: {
        name: 'nchwc_probe',
        nodes: [{ opType: 'ReorderInput', domain: NCHWC_DOMAIN, inputs: ['x'], outputs: ['y'] }],
        initializers: [],
        inputs: [{ name: 'x', dtype: 'float32', dims: [1, 4, 1, 1] }],
        outputs: [{ name: 'y', dtype: 'float32', dims: [1, 'block', 1, 1] }],
      },
    });
    try {
      const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 4, intraOpNumThreads: 1 });
      try {
        const r = await s.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
        const b = Number(r.y.dims[1]);
        return Number.isInteger(b) && b >= 4 && b % 4 === 0 ? b : null;
      } finally {
        await s.release();
      }
    } catch {
      return null;
    }
  })();
  return blockSize;
}

/** Which convolution path a gradient graph takes: 'auto' (the default) is 'blocked' where the probe finds the kernels. */
export type ConvPathOption = ConvPath | 'auto';

/**
 * Resolves a requested convolution path for a session on `eps`: the blocked kernels only run on the CPU
 * provider, so any other provider gets the standard path; 'blocked' where the kernels are missing is an error.
 */
export async function resolveConvPath(
  requested: ConvPathOption = 'auto',
  eps: readonly ExecutionProvider[] = ['cpu'],
): Promise<{ path: ConvPath; block: number | null }> {
  if (requested !== 'auto' && requested !== 'standard' && requested !== 'blocked')
    throw new RangeError(`convPath: expected 'auto', 'standard' or 'blocked', got ${String(requested)}`);
  if (requested === 'standard') return { path: 'standard', block: null };
  const cpuOnly = eps.every((e) => e === 'cpu');
  const block = cpuOnly ? await nchwcBlockSize() : null;
  if (block === null) {
    if (requested === 'blocked')
      throw new Error(
        cpuOnly
          ? "convPath 'blocked': this onnxruntime has no NCHWc kernels"
          : "convPath 'blocked' needs the CPU execution provider alone",
      );
    return { path: 'standard', block: null };
  }
  return { path: 'blocked', block };
}
