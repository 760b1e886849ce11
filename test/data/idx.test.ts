import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { encodeIdx, openImageDataset, readIdx } from '../../src/data/index.js';
import { at, noise, rejectsFile, tempDir } from './helpers.js';

const FMNIST = fileURLToPath(new URL('../fixtures/fashion-mnist', import.meta.url));
const TRAIN = join(FMNIST, 'train-images-idx3-ubyte.gz');

/** Writes an IDX file (gzip-compressed when the name ends in .gz) and returns its path. */
function writeIdx(dir: string, name: string, dims: number[], data: Uint8Array): string {
  const bytes = encodeIdx(dims, data);
  const file = join(dir, name);
  writeFileSync(file, name.endsWith('.gz') ? gzipSync(bytes) : bytes);
  return file;
}

/** The raw header + payload bytes of an IDX file with a lying header. */
function rawIdx(head: number[], payload: Uint8Array): Uint8Array {
  const h = new DataView(new ArrayBuffer(4 + 4 * (head.length - 1)));
  h.setUint32(0, head[0]);
  head.slice(1).forEach((d, i) => {
    h.setUint32(4 + 4 * i, d);
  });
  return Buffer.concat([new Uint8Array(h.buffer), payload]);
}

describe('IDX files (Fashion-MNIST subset)', () => {
  it('reads images and labels of both splits from the folder', async () => {
    const train = await openImageDataset(FMNIST, { channels: 1, height: 28, width: 28 });
    assert.equal(train.source, TRAIN);
    assert.equal(train.length, 256);
    // facts of the full Debian set (numpy): the first labels and image 0's pixel sum
    assert.deepEqual([...(train.labels ?? [])].slice(0, 10), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    const out = new Float32Array(28 * 28);
    await train.read(0, out);
    assert.equal(
      out.reduce((s, v) => s + Math.round(v * 255), 0),
      76247,
    );
    assert.ok(out.every((v) => Number.isInteger(v * 255) || Math.fround(Math.round(v * 255) / 255) === v));
    const test = await openImageDataset(FMNIST, { channels: 1, height: 28, width: 28, split: 'test' });
    assert.match(test.source, /t10k-images-idx3-ubyte\.gz$/);
    assert.deepEqual([...(test.labels ?? [])].slice(0, 10), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  });

  it('sums to the reference over the 256 images (every byte read)', async () => {
    const ds = await openImageDataset(TRAIN, { channels: 1, height: 28, width: 28 });
    const out = new Float32Array(256 * 784);
    for (let i = 0; i < 256; i++) await ds.read(i, out, i * 784);
    assert.equal(
      out.reduce((s, v) => s + Math.round(v * 255), 0),
      14846296,
    );
  });

  it('pads 28x28 to 32x32 centred with zeros, and fills 3 channels with the grey', async () => {
    const { data } = await readIdx(TRAIN, 3);
    const ds = await openImageDataset(TRAIN, { channels: 3, height: 32, width: 32 });
    const out = new Float32Array(3 * 32 * 32 + 5);
    await ds.read(7, out, 5);
    const img = out.subarray(5);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
          const want = inside ? data[7 * 784 + (y - 2) * 28 + (x - 2)] : 0;
          assert.equal(img[(c * 32 + y) * 32 + x], Math.fround(want / 255));
        }
      }
    }
    // odd difference: 28 -> 31 puts floor(3 / 2) = 1 on the top and left
    const odd = await openImageDataset(TRAIN, { channels: 1, height: 31, width: 29 });
    const o = new Float32Array(31 * 29);
    await odd.read(7, o);
    assert.equal(at(o, 31, 29, 0, 1, 0), data[7 * 784]);
    assert.equal(o[0], 0);
    assert.equal(o[28], 0);
  });

  it('reads raw and gzip files alike, and prefers the raw file of a pair', async () => {
    const dir = tempDir();
    for (const name of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']) {
      writeFileSync(join(dir, name), gunzipSync(readFileSync(join(FMNIST, `${name}.gz`))));
      writeFileSync(join(dir, `${name}.gz`), readFileSync(join(FMNIST, `${name}.gz`)));
    }
    const raw = await openImageDataset(dir, { channels: 1, height: 28, width: 28 });
    assert.equal(raw.source, join(dir, 'train-images-idx3-ubyte'));
    const gz = await openImageDataset(TRAIN, { channels: 1, height: 28, width: 28 });
    const a = new Float32Array(784);
    const b = new Float32Array(784);
    for (const i of [0, 100, 255]) {
      await raw.read(i, a);
      await gz.read(i, b);
      assert.deepEqual(a, b);
    }
    assert.deepEqual(raw.labels, gz.labels);
  });

  it('round-trips encodeIdx through readIdx, raw and gzip', async () => {
    const dir = tempDir();
    const data = noise(3 * 2 * 5, 1);
    for (const name of ['x-images-idx3-ubyte', 'x-images-idx3-ubyte.gz']) {
      const r = await readIdx(writeIdx(dir, name, [3, 2, 5], data), 3);
      assert.deepEqual(r.dims, [3, 2, 5]);
      assert.deepEqual(r.data, data);
    }
  });

  it('resizes when asked: a 2x reduction of a linear ramp is exact inside', async () => {
    const dir = tempDir();
    const ramp = new Uint8Array(2 * 28 * 28);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) ramp[28 * 28 + y * 28 + x] = 8 * x + 4;
    const file = writeIdx(dir, 'r-images-idx3-ubyte', [2, 28, 28], ramp);
    const ds = await openImageDataset(file, { channels: 1, height: 14, width: 14, resize: 'resize' });
    const out = new Float32Array(14 * 14);
    await ds.read(1, out);
    // output column j averages source columns around 2j + 0.5 symmetrically: 8(2j + 0.5) + 4
    for (let y = 0; y < 14; y++)
      for (let j = 1; j < 13; j++) assert.equal(at(out, 14, 14, 0, y, j), 16 * j + 8);
    await ds.read(0, out);
    assert.ok(out.every((v) => v === 0));
  });

  it('refuses a model smaller than the images unless resizing', async () => {
    await rejectsFile(
      openImageDataset(TRAIN, { channels: 1, height: 24, width: 32 }),
      TRAIN,
      /larger than the model's 32x24; IDX images are padded to the model size, not shrunk/,
    );
  });
});

describe('hostile IDX files', () => {
  const dir = tempDir();
  const open = (file: string) => openImageDataset(file, { channels: 1, height: 32, width: 32 });

  it('refuses lying dims in a raw file (truncated and overlong)', async () => {
    const short = join(dir, 'short-images-idx3-ubyte');
    writeFileSync(short, rawIdx([0x803, 10, 28, 28], new Uint8Array(9 * 784)));
    await rejectsFile(open(short), short, /need 7856 bytes but the file has 7072 \(truncated\)/);
    const long = join(dir, 'long-images-idx3-ubyte');
    writeFileSync(long, rawIdx([0x803, 1, 28, 28], new Uint8Array(2 * 784)));
    await rejectsFile(open(long), long, /need 800 bytes but the file has 1584/);
  });

  it('refuses lying dims in a gzip file, stopping at the first excess byte', async () => {
    const short = join(dir, 'short-images-idx3-ubyte.gz');
    writeFileSync(short, gzipSync(rawIdx([0x803, 10, 28, 28], new Uint8Array(9 * 784))));
    await rejectsFile(open(short), short, /need 7840 bytes but the data has 7056 \(truncated\)/);
    // a gzip bomb: 1 image declared, 16 MiB of zeros inflated behind it
    const bomb = join(dir, 'bomb-images-idx3-ubyte.gz');
    writeFileSync(bomb, gzipSync(rawIdx([0x803, 1, 28, 28], new Uint8Array(16 * 2 ** 20)), { level: 9 }));
    await rejectsFile(open(bomb), bomb, /decompressed data is longer than IDX dims \[1, 28, 28\] declare/);
  });

  it('refuses huge declared sizes before allocating', async () => {
    const huge = join(dir, 'huge-images-idx3-ubyte');
    writeFileSync(huge, rawIdx([0x803, 0xffffffff, 0xffff, 0xffff], new Uint8Array(16)));
    await rejectsFile(open(huge), huge, /declare \d+ bytes, over the 2147483648-byte limit/);
    const hugeGz = join(dir, 'huge-images-idx3-ubyte.gz');
    writeFileSync(hugeGz, gzipSync(rawIdx([0x803, 0xffffffff, 0xffff, 0xffff], new Uint8Array(16))));
    await rejectsFile(open(hugeGz), hugeGz, /over the 2147483648-byte limit/);
  });

  it('refuses bad magic, element types, dimensions and corrupt gzip', async () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['magic', rawIdx([0x01000803, 1, 1, 1], new Uint8Array(1)), /bad magic/],
      ['float', rawIdx([0x0d03, 1, 1, 1], new Uint8Array(4)), /element type 0xd is not supported/],
      ['dims', rawIdx([0x0802, 1, 1], new Uint8Array(1)), /has 2 dimensions, expected 3/],
      ['empty', new Uint8Array(0), /shorter than its 4-byte magic/],
      ['zero', rawIdx([0x803, 0, 28, 28], new Uint8Array(0)), /hold no data/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const file = join(dir, `${name}-images-idx3-ubyte`);
      writeFileSync(file, bytes);
      await rejectsFile(open(file), file, pattern);
    }
    const gz = gzipSync(rawIdx([0x803, 4, 28, 28], noise(4 * 784, 3)));
    gz.fill(0xff, 40, 60);
    const corrupt = join(dir, 'corrupt-images-idx3-ubyte.gz');
    writeFileSync(corrupt, gz);
    await rejectsFile(open(corrupt), corrupt, /corrupt gzip data/);
  });

  it('refuses a labels file whose count differs, naming it', async () => {
    const sub = tempDir();
    const images = writeIdx(sub, 'train-images-idx3-ubyte', [3, 28, 28], new Uint8Array(3 * 784));
    const labels = writeIdx(sub, 'train-labels-idx1-ubyte.gz', [2], new Uint8Array(2));
    await rejectsFile(open(sub), labels, /has 2 labels for 3 images in train-images-idx3-ubyte/);
    assert.ok(images);
  });

  it('refuses a folder with several IDX families for one split', async () => {
    const sub = tempDir();
    writeIdx(sub, 'emnist-letters-train-images-idx3-ubyte.gz', [1, 28, 28], new Uint8Array(784));
    writeIdx(sub, 'emnist-digits-train-images-idx3-ubyte.gz', [1, 28, 28], new Uint8Array(784));
    await rejectsFile(open(sub), sub, /several IDX image files for split 'train'/);
    const one = await open(join(sub, 'emnist-digits-train-images-idx3-ubyte.gz'));
    assert.equal(one.length, 1);
  });

  it('names the split that is missing', async () => {
    const sub = tempDir();
    writeIdx(sub, 'train-images-idx3-ubyte', [1, 28, 28], new Uint8Array(784));
    await rejectsFile(
      openImageDataset(sub, { channels: 1, height: 28, width: 28, split: 'test' }),
      sub,
      /none for split 'test'/,
    );
  });
});
