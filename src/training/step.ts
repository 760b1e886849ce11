/**
 * One differentiable DSM step: the loss and every trained parameter's gradient for a batch, with the
 * parameters fed as inputs so one compiled graph serves every step. Built on src/onnx/autodiff
 * (`DsmStepGraph`).
 */
import type { UNet2DConfig } from '../models/unet-2d/index.js';

export interface DsmBatch {
  /** (B, C, H, W) clean images. */
  x0: Float32Array;
  /** (B) noise levels. */
  sigma: Float32Array;
  /** (B, C, H, W) standard normal noise. */
  z: Float32Array;
}

export interface DsmStepResult {
  loss: number;
  /** d loss / d param for every trained key. */
  grads: Map<string, Float32Array>;
}

export interface DsmStep {
  run(params: ReadonlyMap<string, Float32Array>, batch: DsmBatch): Promise<DsmStepResult>;
  release(): Promise<void>;
}

export interface DsmStepOptions {
  batchSize: number;
  height: number;
  width: number;
  intraOpThreads?: number;
}

/** Compiles the step for `config` at a fixed batch and image size. */
export async function createDsmStep(_config: UNet2DConfig, _options: DsmStepOptions): Promise<DsmStep> {
  throw new Error('createDsmStep: waiting for src/onnx/autodiff (branch autodiff)');
}
