/** An `ImageDataset` over MNIST-family IDX files: images held as bytes, labels from the idx1 file beside. */
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FileFormatError } from '../errors.js';
import { ByteLruCache } from './byte-cache.js';
import { readIdx } from './idx.js';
import { decodeImage, type ImageTarget } from './image-decode.js';
import { checkReadArgs, writeUnit } from './read-helpers.js';
import type { ImageDataset } from './types.js';

const IMAGES_RE = /images[-.]idx3-ubyte(\.gz)?$/;

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The labels file beside an images file (`x-images-idx3-ubyte[.gz]` -> `x-labels-idx1-ubyte[.gz]`), if any. */
export async function findLabelsFile(imagesFile: string): Promise<string | undefined> {
  const name = basename(imagesFile);
  if (!IMAGES_RE.test(name)) return undefined;
  const stem = name
    .replace(IMAGES_RE, (m) => m.replace('images', 'labels').replace('idx3', 'idx1'))
    .replace(/\.gz$/, '');
  for (const candidate of [stem, `${stem}.gz`]) {
    const p = join(dirname(imagesFile), candidate);
    if (await isFile(p)) return p;
  }
  return undefined;
}

export class IdxDataset implements ImageDataset {
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly #images: Uint8Array; // (N, h, w)
  readonly #h: number;
  readonly #w: number;
  readonly #target: ImageTarget;
  readonly #cache: ByteLruCache;

  constructor(
    readonly source: string,
    images: Uint8Array,
    dims: readonly number[],
    target: ImageTarget,
    cacheBytes: number,
    readonly labels?: Uint8Array,
  ) {
    [this.length, this.#h, this.#w] = dims;
    this.#images = images;
    this.#target = target;
    this.channels = target.channels;
    this.height = target.height;
    this.width = target.width;
    this.#cache = new ByteLruCache(cacheBytes);
  }

  async read(index: number, out: Float32Array, offset = 0): Promise<void> {
    checkReadArgs(this, index, out, offset);
    const h = this.#h;
    const w = this.#w;
    const src = this.#images.subarray(index * h * w, (index + 1) * h * w);
    if (this.#target.resize === 'resize') {
      const img = await this.#cache.get(index, () =>
        decodeImage({ data: src, width: w, height: h, channels: 1 }, this.#target),
      );
      writeUnit(img, out, offset);
      return;
    }
    // pad: zeros around the centred image, every channel the same grey
    const { channels: C, height: H, width: W } = this;
    const top = (H - h) >> 1;
    const left = (W - w) >> 1;
    out.fill(0, offset, offset + C * H * W);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < h; y++)
        writeUnit(src.subarray(y * w, (y + 1) * w), out, offset + c * H * W + (top + y) * W + left);
    }
  }
}

/** Opens an IDX images file (raw or .gz) and the labels file beside it, checking sizes against the target. */
export async function openIdxDataset(
  file: string,
  target: ImageTarget,
  cacheBytes: number,
): Promise<IdxDataset> {
  const { dims, data } = await readIdx(file, 3);
  const [n, h, w] = dims;
  if (target.resize === 'pad' && (h > target.height || w > target.width)) {
    throw new FileFormatError(
      file,
      `images are ${w}x${h}, larger than the model's ${target.width}x${target.height}; ` +
        'IDX images are padded to the model size, not shrunk: use a model of at least that size',
    );
  }
  if (target.resize === 'resize' && h * w > target.maxInputPixels) {
    throw new FileFormatError(file, `images are ${w}x${h}, over the pixel limit of ${target.maxInputPixels}`);
  }
  let labels: Uint8Array | undefined;
  const labelsFile = await findLabelsFile(file);
  if (labelsFile) {
    const l = await readIdx(labelsFile, 1);
    if (l.dims[0] !== n) {
      throw new FileFormatError(labelsFile, `has ${l.dims[0]} labels for ${n} images in ${basename(file)}`);
    }
    labels = l.data;
  }
  return new IdxDataset(file, data, dims, target, cacheBytes, labels);
}
