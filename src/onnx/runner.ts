/**
 * What a model needs from an onnxruntime session, whichever runtime builds it: onnxruntime-node
 * (`OnnxSession`) in Node, onnxruntime-web (`WebOnnxSession`) in a browser. Runtime-free on purpose.
 */
import type { Tensor } from '../tensor.js';

export interface GraphRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph; returns the requested outputs (all by default) as Tensors. */
  run(feeds: Record<string, Tensor>, outputNames?: readonly string[]): Promise<Map<string, Tensor>>;
  /** Frees the session; later run() calls throw. */
  release(): Promise<void>;
}

/** Builds a runner from ONNX model bytes (the serialized graph with its weights). */
export type GraphRunnerFactory = (modelBytes: Uint8Array) => Promise<GraphRunner>;

/** onnxruntime's JS dtypes that our Tensors share. */
export const ORT_DTYPES: ReadonlySet<string> = new Set([
  'float32',
  'int64',
  'int32',
  'float64',
  'uint8',
  'bool',
]);
