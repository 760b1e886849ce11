/** Opening the training images at the model's size, with a clear error when they do not fit the model. */
import { resolve } from 'node:path';
import { openImageDataset } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';
import { ConfigError } from '../errors.js';

export interface TrainingDataShape {
  channels: number;
  height: number;
  width: number;
}

/** The dataset `data` names (or is), checked against the model's channels and size and for emptiness. */
export async function openTrainingData(
  data: string | ImageDataset,
  shape: TrainingDataShape,
  options: { skipUnreadable?: boolean; signal?: AbortSignal; onWarning?: (message: string) => void } = {},
): Promise<ImageDataset> {
  const dataset =
    typeof data === 'string'
      ? // An absolute path, so that a resumed run finds the data from any working directory.
        await openImageDataset(resolve(data), {
          ...shape,
          skipUnreadable: options.skipUnreadable,
          signal: options.signal,
          onWarning: options.onWarning ?? ((m) => process.emitWarning(m)),
        })
      : data;
  const { channels, height, width } = shape;
  if (dataset.channels !== channels || dataset.height !== height || dataset.width !== width) {
    throw new ConfigError(
      `${dataset.source}: images are ${dataset.channels}×${dataset.height}×${dataset.width}; the model takes ${channels}×${height}×${width}`,
    );
  }
  if (!(dataset.length > 0)) throw new ConfigError(`${dataset.source}: no images`);
  return dataset;
}
