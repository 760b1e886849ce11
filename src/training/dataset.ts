/** Opening the training images at the model's size, with a clear error when they do not fit the model. */
import { resolve } from 'node:path';
import { openImageDataset } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';
import { ConfigError } from '../errors.js';
import { ProgressBar, type ProgressStream } from '../progress.js';

export interface TrainingDataShape {
  channels: number;
  height: number;
  width: number;
}

/** The dataset `data` names (or is), checked against the model's channels and size and for emptiness. */
/** Folders with fewer files than this are indexed without a progress bar. */
export const INDEX_BAR_MIN_FILES = 1000;

export async function openTrainingData(
  data: string | ImageDataset,
  shape: TrainingDataShape,
  options: {
    skipUnreadable?: boolean;
    signal?: AbortSignal;
    onWarning?: (message: string) => void;
    /** Where to show the progress of indexing a folder. */
    progressStream?: ProgressStream;
  } = {},
): Promise<ImageDataset> {
  // Indexing a large folder takes seconds: a bar once files are being checked (total known); a small folder
  // (under INDEX_BAR_MIN_FILES) is indexed in a blink and gets none.
  let bar: ProgressBar | undefined;
  const onProgress = (done: number, total: number) => {
    if (!options.progressStream || done === 0 || total < INDEX_BAR_MIN_FILES) return;
    bar ??= new ProgressBar({ total, desc: 'data', unit: 'file', stream: options.progressStream });
    bar.update(done - bar.n);
  };
  let dataset: ImageDataset;
  try {
    dataset =
      typeof data === 'string'
        ? // An absolute path, so that a resumed run finds the data from any working directory.
          await openImageDataset(resolve(data), {
            ...shape,
            skipUnreadable: options.skipUnreadable,
            signal: options.signal,
            onWarning: options.onWarning ?? ((m) => process.emitWarning(m)),
            onProgress,
          })
        : data;
  } finally {
    bar?.close();
  }
  const { channels, height, width } = shape;
  if (dataset.channels !== channels || dataset.height !== height || dataset.width !== width) {
    throw new ConfigError(
      `${dataset.source}: images are ${dataset.channels}×${dataset.height}×${dataset.width}; the model takes ${channels}×${height}×${width}`,
    );
  }
  if (!(dataset.length > 0)) throw new ConfigError(`${dataset.source}: no images`);
  return dataset;
}
