/**
 * Many samples from a pipeline, in memory, with `scoresde sample`'s seed scheme: image k from its own
 * generator seeded `seed + k`, in batches of `batchSize` consecutive images. The images therefore equal the
 * files `scoresde sample --count N --seed S --batch-size B` writes (sharded or not) with the same sampler
 * settings, so a run sharded over many machines can be evaluated afterwards with `--samples`.
 */
import type { PipelineStep, ScoreSdeVePipeline } from '../pipelines/score-sde-ve.js';
import { Generator } from '../random/index.js';
import type { SamplerName, SamplerOptions } from '../samplers/registry.js';
import type { Tensor } from '../tensor.js';
import { nhwcToNchw } from './images.js';

export interface GenerateOptions {
  count: number;
  /** Images per pipeline call (default 64). */
  batchSize?: number;
  /** Image k uses torch.Generator().manual_seed(seed + k). Default 0. */
  seed?: number | bigint;
  /** Undefined: diffusers' own loop. */
  sampler?: SamplerName;
  numInferenceSteps?: number;
  samplerOptions?: Omit<SamplerOptions, 'shape'>;
  /** Every pipeline step of every batch. */
  onStep?: (step: PipelineStep) => void;
  /** After each batch, with the images done so far. */
  onBatch?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** (count, C, H, W) float32 in [0, 1] (clamped, as the pipeline's 'np' output), and network calls per image. */
export async function generateSamples(
  pipe: ScoreSdeVePipeline,
  options: GenerateOptions,
): Promise<{ data: Float32Array; dims: number[]; nfe: number }> {
  const { count, batchSize = 64 } = options;
  const seed = BigInt(options.seed ?? 0);
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`count must be a positive integer, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  let data: Float32Array | undefined;
  let dims: number[] = [];
  let nfe = 0;
  for (let i = 0; i < count; i += batchSize) {
    const b = Math.min(batchSize, count - i);
    const generator = Array.from({ length: b }, (_, k) => new Generator().manualSeed(seed + BigInt(i + k)));
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
        options.onStep?.(s);
      },
    });
    const nchw = nhwcToNchw((images as Tensor<'float32'>).data, images.dims);
    const size = nchw.data.length / b;
    if (!data) {
      dims = [count, ...nchw.dims.slice(1)];
      data = new Float32Array(count * size);
    }
    data.set(nchw.data, i * size);
    options.onBatch?.(i + b, count);
  }
  return { data: data!, dims, nfe };
}
