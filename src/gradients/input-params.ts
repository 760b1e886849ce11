/**
 * A ParamSource that makes every parameter a graph input (so one onnxruntime session serves every training
 * step, with the current weights fed per run) and records which ones the graph reads.
 */
import type { ParamSource } from '../models/unet-2d/layers.js';
import type { GraphBuilder } from '../onnx/graph.js';

export class InputParams implements ParamSource {
  /** Trainable parameters (graph inputs named by state-dict key), in build order, with their shapes. */
  readonly trainable = new Map<string, number[]>();
  /** Parameters consumed on the host (fourier `time_proj.weight`): no input, no gradient. */
  readonly frozen = new Map<string, number[]>();
  private readonly views = new Map<string, string>();

  claim(name: string, dims: number[]): void {
    this.frozen.set(name, dims);
  }

  param(g: GraphBuilder, name: string, dims: number[], viewDims: number[] = dims): string {
    if (!this.trainable.has(name)) {
      g.input(name, 'float32', dims);
      this.trainable.set(name, dims);
    }
    if (viewDims === dims) return name;
    const key = `${name}:${viewDims.join('x')}`;
    let v = this.views.get(key);
    if (!v) {
      v = g.reshape(name, viewDims);
      this.views.set(key, v);
    }
    return v;
  }
}
