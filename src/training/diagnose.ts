/**
 * The per-σ denoiser table during training (src/diagnostics/per-sigma.ts), every `diagnoseEvery` steps on a
 * fixed batch of held-out images: whether the EMA weights are ready for deterministic samplers yet.
 *
 * Held-out images: `diagnoseData`, else the test split beside IDX training files (Fashion-MNIST's t10k),
 * else the first training images (then said in the log: they are not held out). The Gaussian is fitted once
 * to the training data when the run starts.
 */

import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { openImageDataset } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';
import {
  diagnosticSigmas,
  fitDatasetGaussian,
  type GaussianStatistics,
  type PerSigmaReport,
  perSigmaReport,
  unetDenoiser,
} from '../diagnostics/index.js';
import type { UNet2DModel } from '../models/unet-2d/model.js';

/** Images in the diagnostic batch. */
export const DIAGNOSE_IMAGES = 64;

export interface TrainingDiagnostic {
  /** Where the images came from, and whether they are held out. */
  source: string;
  heldOut: boolean;
  run(unet: UNet2DModel, signal?: AbortSignal): Promise<PerSigmaReport>;
}

/**
 * The test split of IDX data at `dataPath`: a folder, or one of its files (a resumed run knows its data by the
 * training file it read, so the split is looked for in that file's folder too); undefined when there is none.
 */
async function testSplitBeside(
  dataPath: string,
  shape: { channels: number; height: number; width: number },
): Promise<ImageDataset | undefined> {
  // A file opens as itself whatever the split, so its folder is asked first.
  const places = statSync(dataPath, { throwIfNoEntry: false })?.isFile()
    ? [dirname(dataPath), dataPath]
    : [dataPath];
  for (const place of places) {
    const held = await openImageDataset(place, { ...shape, split: 'test' }).catch(() => undefined);
    if (held) return held;
  }
  return undefined;
}

/** Prepares the batch and the Gaussian (the fit reads every training image once). */
export async function prepareDiagnostic(
  train: ImageDataset,
  sigmaRange: [number, number],
  diagnoseData: string | undefined,
  dataPath: string | undefined,
): Promise<TrainingDiagnostic> {
  const shape = { channels: train.channels, height: train.height, width: train.width };
  let held: ImageDataset | undefined;
  if (diagnoseData !== undefined) held = await openImageDataset(diagnoseData, shape);
  else if (dataPath !== undefined) held = await testSplitBeside(dataPath, shape);
  if (held && held.source === train.source) held = undefined; // an image folder has no test split
  const images = held ?? train;
  const n = Math.min(DIAGNOSE_IMAGES, images.length);
  const d = shape.channels * shape.height * shape.width;
  const batch = new Float32Array(n * d);
  for (let i = 0; i < n; i++) await images.read(i, batch, i * d);
  const gaussian: GaussianStatistics = await fitDatasetGaussian(train);
  const sigmas = diagnosticSigmas(sigmaRange[0], sigmaRange[1]);
  return {
    source: images.source,
    heldOut: held !== undefined,
    run: (unet, signal) =>
      perSigmaReport({
        denoise: unetDenoiser(unet),
        images: batch,
        imageShape: [shape.channels, shape.height, shape.width],
        statistics: gaussian,
        sigmas,
        batchSize: n,
        signal,
      }),
  };
}
