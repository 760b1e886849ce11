/**
 * What a training run publishes: `DIR` as a diffusers ScoreSdeVePipeline folder (model_index.json, unet/ with
 * the EMA weights, scheduler/ with the training σ range), loadable by `ScoreSdeVePipeline.fromPretrained(DIR)`
 * here and by Python diffusers' `ScoreSdeVePipeline.from_pretrained(DIR)`.
 */
import { UNet2DModel } from '../models/unet-2d/index.js';
import { ScoreSdeVePipeline } from '../pipelines/index.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import { Tensor } from '../tensor.js';

/** The scheduler a trained model samples with: `base` (e.g. the fine-tuned model's) with the training σ range. */
export function trainingScheduler(
  base: Record<string, unknown> | undefined,
  sigmaMin: number,
  sigmaMax: number,
): ScoreSdeVeScheduler {
  return ScoreSdeVeScheduler.fromConfig({ ...(base ?? {}), sigma_min: sigmaMin, sigma_max: sigmaMax });
}

/** A UNet2DModel over `weights` (a full state dict; shapes from `shapes`). */
export function unetFromWeights(
  unetConfig: Record<string, unknown>,
  weights: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, readonly number[]>,
  options: { intraOpThreads?: number } = {},
): UNet2DModel {
  const sd = new Map<string, Tensor>();
  for (const [k, v] of weights) sd.set(k, new Tensor('float32', v, shapes.get(k)!));
  return UNet2DModel.fromConfig(unetConfig, sd, { ...options, onWarning: () => {} });
}

/** Writes the pipeline folder (each file atomically) with `weights` as the UNet's weights. */
export async function writePipelineFolder(
  dir: string,
  unetConfig: Record<string, unknown>,
  weights: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, readonly number[]>,
  scheduler: ScoreSdeVeScheduler,
): Promise<void> {
  const unet = unetFromWeights(unetConfig, weights, shapes);
  await new ScoreSdeVePipeline({ unet, scheduler }).savePretrained(dir);
}
