// Public exports of src/data: image datasets for training, likelihood and evaluation.

export { encodeIdx, type IdxArray, MAX_IDX_BYTES, readIdx } from './idx.js';
export { IdxDataset } from './idx-dataset.js';
export { IMAGE_EXTENSIONS, type ResizeMode } from './image-decode.js';
export { ImageFolderDataset } from './image-folder.js';
export { type Batch, DataLoader, type DataLoaderOptions, type DataLoaderState } from './loader.js';
export { openImageDataset } from './open.js';
export {
  DEFAULT_CACHE_BYTES,
  DEFAULT_MAX_INPUT_PIXELS,
  MAX_SIDE,
  type OpenImageDatasetOptions,
} from './options.js';
export { RANDPERM_MAX_N, randperm } from './randperm.js';
export { type ReadImagesOptions, readImages } from './read-images.js';
export type { ImageDataset } from './types.js';
