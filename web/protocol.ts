/** Messages between the demo page (main.ts) and its sampling worker (worker.ts). */
import type { SamplerName } from '../src/web/index.js';

export type ModelSourceMsg = { url: string } | { repo: string; endpoint: string };

export type ToWorker =
  | { type: 'load'; source: ModelSourceMsg; webgpu: boolean }
  | {
      type: 'generate';
      sampler: SamplerName;
      /** heun's churn (EDM S_churn); 0 = deterministic. */
      churn: number;
      /** Every sampler: the noise-norm correction above this σ (samplers' gaussianNormAbove); undefined = off. */
      gaussianNormAbove: number | undefined;
      /** Every sampler: the Gaussian's score above this σ (samplers' gaussianAbove); undefined = off. */
      gaussianAbove: number | undefined;
      steps: number | undefined;
      seed: number;
      batchSize: number;
    }
  | {
      type: 'inpaint';
      steps: number | undefined;
      seed: number;
      batchSize: number;
      /** (1, 3, H, W) in [0, 1]. */
      image: Float32Array;
      /** (1, 1, H, W): 1 = repaint. */
      mask: Float32Array;
    }
  | { type: 'cancel' };

/** 8-bit RGBA pixels of one image, ready for ImageData. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type FromWorker =
  | { type: 'load-progress'; file: string; loaded: number; total?: number; fromCache: boolean }
  | {
      type: 'loaded';
      width: number;
      height: number;
      parameters: number;
      backend: string;
      threads: number;
      webgpuAdapter: boolean;
    }
  | { type: 'step'; step: number; totalSteps: number; sigma: number; nfe: number; preview: RgbaImage[] }
  | {
      type: 'done';
      images: RgbaImage[];
      /** The final sample (B, 3, H, W), unclamped. */
      sample: Float32Array;
      /** diffusers output_type="np": (B, H, W, 3) clamped to [0, 1]. */
      np: Float32Array;
      npDims: number[];
      nfe: number;
      seconds: number;
    }
  | { type: 'cancelled' }
  | { type: 'error'; message: string };
