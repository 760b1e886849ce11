/** Opening the training images at the model's size, with a clear error when they do not fit the model. */
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
  options: { skipUnreadable?: boolean } = {},
): Promise<ImageDataset> {
  let dataset: ImageDataset;
  if (typeof data === 'string') {
    void options;
    throw new Error('openTrainingData: waiting for src/data openImageDataset (branch data)');
  } else dataset = data;
  const { channels, height, width } = shape;
  if (dataset.channels !== channels || dataset.height !== height || dataset.width !== width) {
    throw new ConfigError(
      `${dataset.source}: images are ${dataset.channels}×${dataset.height}×${dataset.width}; the model takes ${channels}×${height}×${width}`,
    );
  }
  if (!(dataset.length > 0)) throw new ConfigError(`${dataset.source}: no images`);
  return dataset;
}
