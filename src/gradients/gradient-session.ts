/**
 * The options and the onnxruntime session every gradient graph (a training step, the score's input VJP)
 * shares: a fixed batch and image size, and session settings tuned for graphs with a backward half.
 */
import type { ConvPathOption, ExecutionProvider } from '../onnx/session.js';
import { OnnxSession } from '../onnx/session.js';

export interface GradientGraphOptions {
  batchSize: number;
  height: number;
  width: number;
  executionProviders?: readonly ExecutionProvider[];
  intraOpThreads?: number;
  /**
   * onnxruntime's idle-thread spinning; default false here: these graphs have thousands of parallel ops, and
   * spinning threads made a training step ~3× slower on a busy 2-core machine (bench/train-step.ts).
   */
  allowSpinning?: boolean;
  /** Write an onnxruntime profile (JSON) whose file name starts with this prefix, at release(). */
  profileFilePrefix?: string;
  /**
   * The convolution kernels: 'blocked' (onnxruntime's NCHWc kernels, src/onnx/nchwc.ts), 'standard', or 'auto'
   * (default: blocked where this onnxruntime has the kernels and the provider is the CPU alone). The paths differ
   * by float32 rounding; each is deterministic for a given thread count. What each means per graph:
   * DsmGraphOptions, ScoreVjpOptions.
   */
  convPath?: ConvPathOption;
}

/** Throws unless batchSize, height and width are positive integers; `what` names the graph. */
export function checkGraphSize(what: string, options: GradientGraphOptions): void {
  const { batchSize, height, width } = options;
  for (const [k, v] of Object.entries({ batchSize, height, width }))
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`${what}: ${k} must be a positive integer, got ${v}`);
}

/**
 * The session for a gradient graph's bytes; `nchwcTransformer: false` turns off onnxruntime's own NCHWc rewrite of
 * constant-weight convolutions (OnnxSessionOptions.nchwcTransformer).
 */
export function gradientSession(
  bytes: Uint8Array,
  options: GradientGraphOptions,
  { nchwcTransformer = true }: { nchwcTransformer?: boolean } = {},
): Promise<OnnxSession> {
  return OnnxSession.create(bytes, {
    nchwcTransformer,
    executionProviders: options.executionProviders,
    intraOpThreads: options.intraOpThreads,
    allowSpinning: options.allowSpinning ?? false,
    // A gradient graph: about half the peak memory without the pattern, same speed (see OnnxSessionOptions).
    memoryPattern: false,
    profileFilePrefix: options.profileFilePrefix,
  });
}
