/** Fashion-MNIST's IDX files in one folder (Debian's `dataset-fashion-mnist` layout), opened as data sets. */
import { openImageDataset } from '../data/index.js';
import type { ImageDataset } from '../data/types.js';

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The training and test sets (1×28×28, with labels) in `dir`. */
export async function openFashionMnist(
  dir: string = FASHION_MNIST_DIR,
): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const open = (split: 'train' | 'test') =>
    openImageDataset(dir, { channels: 1, height: 28, width: 28, split, resize: 'pad' });
  const [train, test] = [await open('train'), await open('test')];
  for (const ds of [train, test])
    if (!ds.labels) throw new RangeError(`${ds.source}: no labels file beside the images`);
  return { train, test };
}
