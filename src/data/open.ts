/**
 * `openImageDataset(path, options)`: a folder of images, an IDX images file, or a folder holding IDX files
 * (`train-images-idx3-ubyte[.gz]`, `t10k-...` as MNIST and Fashion-MNIST ship them), as an `ImageDataset`.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { ConfigError, FileFormatError } from '../errors.js';
import { openIdxDataset } from './idx-dataset.js';
import { IMAGE_EXTENSIONS } from './image-decode.js';
import { openImageFolder } from './image-folder.js';
import { checkCacheBytes, checkTarget, type OpenImageDatasetOptions } from './options.js';
import type { ImageDataset } from './types.js';

const IDX_IMAGES_RE = /^(.*?)(train|t10k|test)-images[-.]idx3-ubyte(\.gz)?$/;

/** The IDX images file of `split` in a folder, undefined when the folder holds no IDX images at all. */
async function findIdxImages(dir: string, split: 'train' | 'test'): Promise<string | undefined> {
  const names = (await readdir(dir)).filter((n) => IDX_IMAGES_RE.test(n)).sort();
  if (names.length === 0) return undefined;
  const wanted = split === 'train' ? ['train'] : ['t10k', 'test'];
  const matches = names.filter((n) => wanted.includes(IDX_IMAGES_RE.exec(n)?.[2] ?? ''));
  if (matches.length === 0) {
    throw new FileFormatError(dir, `has IDX files (${names.join(', ')}) but none for split '${split}'`);
  }
  const stems = [...new Set(matches.map((n) => n.replace(/\.gz$/, '')))];
  if (stems.length > 1) {
    throw new FileFormatError(
      dir,
      `has several IDX image files for split '${split}' (${stems.join(', ')}): pass one`,
    );
  }
  // torchvision keeps both the .gz and the raw file: the raw one reads faster
  return join(dir, matches.find((n) => !n.endsWith('.gz')) ?? matches[0]);
}

/** Opens `path` as an image dataset at the model's size and channels; see {@link OpenImageDatasetOptions}. */
export async function openImageDataset(
  path: string,
  options: OpenImageDatasetOptions,
): Promise<ImageDataset> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError('openImageDataset: path must be a non-empty string');
  const { split = 'train' } = options ?? {};
  if (split !== 'train' && split !== 'test') {
    throw new ConfigError(`openImageDataset: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const cacheBytes = checkCacheBytes(options);
  checkTarget(options, 'resize'); // option errors first, whatever the path
  const s = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new FileFormatError(
      path,
      e.code === 'ENOENT' ? 'no such file or folder' : `cannot read (${e.code ?? e})`,
    );
  });
  if (s.isDirectory()) {
    const idx = await findIdxImages(path, split);
    if (idx) return openIdxDataset(idx, checkTarget(options, 'pad'), cacheBytes);
    return openImageFolder(path, checkTarget(options, 'resize'), cacheBytes, options);
  }
  if (IMAGE_EXTENSIONS.includes(extname(path).toLowerCase())) {
    throw new FileFormatError(path, 'is one image, not a dataset: pass the folder that holds the images');
  }
  return openIdxDataset(path, checkTarget(options, 'pad'), cacheBytes);
}
