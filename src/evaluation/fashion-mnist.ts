/** Fashion-MNIST's IDX files in one folder (Debian's `dataset-fashion-mnist` layout), opened as data sets. */
import { join } from 'node:path';
import { openImageDataset } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_FILES = {
  train: 'train-images-idx3-ubyte.gz',
  test: 't10k-images-idx3-ubyte.gz',
} as const;

/** The training and test sets (1×28×28, with labels) in `dir`. */
export async function openFashionMnist(
  dir: string = FASHION_MNIST_DIR,
): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const open = (name: string) => openImageDataset(join(dir, name), { channels: 1, height: 28, width: 28 });
  return { train: await open(FASHION_MNIST_FILES.train), test: await open(FASHION_MNIST_FILES.test) };
}
