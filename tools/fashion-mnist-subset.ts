/**
 * Writes the small Fashion-MNIST subset the tests use: the first 256 train and the first 256 test images
 * with their labels, as IDX .gz files, from Debian's `dataset-fashion-mnist` (scripts/fashion-mnist.sh).
 * Usage: node --import tsx tools/fashion-mnist-subset.ts [SOURCE_DIR] [OUT_DIR]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, readIdx } from '../src/data/idx.js';

const COUNT = 256;
const [src = '/usr/share/datasets/fashion-mnist', out = 'test/fixtures/fashion-mnist'] =
  process.argv.slice(2);

for (const split of ['train', 't10k']) {
  const images = await readIdx(join(src, `${split}-images-idx3-ubyte.gz`), 3);
  const labels = await readIdx(join(src, `${split}-labels-idx1-ubyte.gz`), 1);
  const [, h, w] = images.dims;
  // gzip level 9, mtime 0: the same bytes on every run
  const write = (name: string, bytes: Uint8Array) =>
    writeFileSync(join(out, name), gzipSync(bytes, { level: 9 }));
  write(`${split}-images-idx3-ubyte.gz`, encodeIdx([COUNT, h, w], images.data.subarray(0, COUNT * h * w)));
  write(`${split}-labels-idx1-ubyte.gz`, encodeIdx([COUNT], labels.data.subarray(0, COUNT)));
  console.log(`${split}: ${COUNT} of ${images.dims[0]} images (${h}x${w}) -> ${out}`);
}
