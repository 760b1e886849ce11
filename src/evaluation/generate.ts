/**
 * Many samples from a pipeline, in batches, each image from its own generator seeded `seed + i`, so the
 * images do not depend on the batch size (diffusers' list-of-generators semantics).
 */
import type { ScoreSdeVePipeline } from '../pipelines/score-sde-ve.js';
import { Generator } from '../random/index.js';
import type { SamplerName, SamplerOptions } from '../samplers/registry.js';
import type { Tensor } from '../tensor.js';
import { nhwcToNchw } from './images.js';

export interface GenerateOptions {
  count: number;
  /** Images per pipeline call (default 64). */
  batchSize?: number;
  /** Image i uses torch.Generator().manual_seed(seed + i). Default 0. */
  seed?: number;
  /** Undefined: diffusers' own loop. */
  sampler?: SamplerName;
  numInferenceSteps?: number;
  samplerOptions?: Omit<SamplerOptions, 'shape'>;
  /** After each batch, with the images done so far. */
  onBatch?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** (count, C, H, W) float32 in [0, 1] (clamped, as the pipeline's 'np' output), and network calls per image. */
export async function generateSamples(
  pipe: ScoreSdeVePipeline,
  options: GenerateOptions,
): Promise<{ data: Float32Array; dims: number[]; nfe: number }> {
  const { count, batchSize = 64, seed = 0 } = options;
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`count must be a positive integer, got ${count}`);
  let data: Float32Array | undefined;
  let dims: number[] = [];
  let nfe = 0;
  for (let i = 0; i < count; i += batchSize) {
    const b = Math.min(batchSize, count - i);
    const generator = Array.from({ length: b }, (_, k) => new Generator().manualSeed(seed + i + k));
    const { images } = await pipe.call({
      batchSize: b,
      generator,
      outputType: 'np',
      sampler: options.sampler,
      numInferenceSteps: options.numInferenceSteps,
      samplerOptions: options.samplerOptions,
      signal: options.signal,
      onStep: (s) => {
        // diffusers' own loop reports steps: each is correct_steps corrector calls and one predictor call.
        nfe = s.nfe ?? (s.step + 1) * (1 + pipe.scheduler.config.correct_steps);
      },
    });
    const nchw = nhwcToNchw((images as Tensor<'float32'>).data, images.dims);
    if (!data) {
      dims = [count, ...nchw.dims.slice(1)];
      data = new Float32Array((count * nchw.data.length) / b);
    }
    data.set(nchw.data, i * (nchw.data.length / b));
    options.onBatch?.(i + b, count);
  }
  return { data: data!, dims, nfe };
}
