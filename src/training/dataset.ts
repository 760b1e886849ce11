/** Opening the training images at the model's size, with a clear error when they do not fit the model. */
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
      ? await openImageDataset(data, {
          ...shape,
          skipUnreadable: options.skipUnreadable,
          signal: options.signal,
          onWarning: options.onWarning,
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
