import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Batch,
  DataLoader,
  type ImageDataset,
  openImageDataset,
  randperm,
} from '../../src/data/index.js';
import { ConfigError } from '../../src/errors.js';
import { Generator } from '../../src/random/index.js';

interface RandpermCase {
  n: number;
  seed: number;
  next_u32_after: number;
  perm?: number[];
  head?: number[];
  sha256_int32le?: string;
}
interface LoaderCase {
  n: number;
  batch_size: number;
  seed: number;
  epochs: number[][][];
}
const FIXTURE: { randperm: RandpermCase[]; dataloader: LoaderCase[] } = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/data/randperm.json', import.meta.url)), 'utf8'),
);

/** n images of shape (C, H, W) whose values encode (index, position): v = ((7i + p) mod 256) / 255. */
class CodedDataset implements ImageDataset {
  readonly source = '<coded>';
  failOn?: number;
  constructor(
    readonly length: number,
    readonly channels = 1,
    readonly height = 2,
    readonly width = 3,
    readonly labels?: Uint8Array,
  ) {}
  async read(index: number, out: Float32Array, offset = 0): Promise<void> {
    if (index === this.failOn) throw new Error(`cannot read ${index}`);
    const size = this.channels * this.height * this.width;
    for (let p = 0; p < size; p++) out[offset + p] = ((7 * index + p) % 256) / 255;
  }
}

const expectedImage = (ds: CodedDataset, index: number) =>
  Float32Array.from({ length: ds.channels * ds.height * ds.width }, (_, p) => ((7 * index + p) % 256) / 255);

describe('randperm', () => {
  it('equals torch.randperm(n, generator=g) on CPU and leaves the stream where torch does', () => {
    for (const c of FIXTURE.randperm) {
      const g = new Generator().manualSeed(c.seed);
      const p = randperm(c.n, g);
      if (c.perm) assert.deepEqual([...p], c.perm, `n=${c.n}`);
      if (c.head) assert.deepEqual([...p.subarray(0, 16)], c.head);
      if (c.sha256_int32le) {
        const le = Buffer.from(Int32Array.from(p).buffer);
        assert.equal(createHash('sha256').update(le).digest('hex'), c.sha256_int32le);
      }
      // torch.randint(0, 2^31, (1,)) is random() % 2^31
      assert.equal(g.nextUint32() % 2 ** 31, c.next_u32_after, `stream after n=${c.n}`);
    }
  });

  it('refuses bad sizes', () => {
    assert.throws(() => randperm(-1, new Generator()), RangeError);
    assert.throws(() => randperm(2 ** 31, new Generator()), RangeError);
  });
});

describe('DataLoader', () => {
  it("serves torch DataLoader(shuffle=True, generator=g, drop_last=True)'s batches", async () => {
    for (const c of FIXTURE.dataloader) {
      const ds = new CodedDataset(c.n);
      const dl = new DataLoader(ds, { batchSize: c.batch_size, seed: c.seed });
      assert.equal(dl.batchesPerEpoch, c.epochs[0].length);
      for (const [e, epoch] of c.epochs.entries()) {
        for (const want of epoch) {
          const b = await dl.nextBatch();
          assert.equal(b.epoch, e);
          assert.deepEqual([...b.indices], want);
          assert.deepEqual(b.shape, [c.batch_size, 1, 2, 3]);
          for (const [k, i] of want.entries())
            assert.deepEqual(b.x.subarray(k * 6, (k + 1) * 6), expectedImage(ds, i));
        }
      }
      assert.equal(dl.epoch, 3);
    }
  });

  it('flips rows where a generator draw after the permutation is < 0.5', async () => {
    const ds = new CodedDataset(10, 2, 2, 3);
    const dl = new DataLoader(ds, { batchSize: 4, seed: 3, flip: true });
    const ref = new Generator().manualSeed(3);
    ref.nextUint32(); // DataLoader's _base_seed: one 64-bit draw
    ref.nextUint32();
    const order = randperm(10, ref);
    randperm(10, ref); // RandomSampler's empty tail permutation
    for (let batch = 0; batch < 2; batch++) {
      const b = await dl.nextBatch();
      for (let k = 0; k < 4; k++) {
        assert.equal(b.indices[k], order[4 * batch + k]);
        const flip = ref.nextFloat() < 0.5;
        assert.equal(b.flipped[k], flip ? 1 : 0);
        const img = expectedImage(ds, b.indices[k]);
        for (let r = 0; r < 4; r++) {
          for (let x = 0; x < 3; x++) assert.equal(b.x[k * 12 + r * 3 + x], img[r * 3 + (flip ? 2 - x : x)]);
        }
      }
    }
    assert.ok(dl.epoch === 1);
  });

  it('resumes bit for bit from a JSON state taken anywhere (mid-epoch, at epoch ends, with flips)', async () => {
    const make = () => new DataLoader(new CodedDataset(10), { batchSize: 3, seed: 11, flip: true });
    const straight = make();
    const all: Batch[] = [];
    for (let i = 0; i < 8; i++) all.push(await straight.nextBatch());
    for (let split = 0; split <= 7; split++) {
      const first = make();
      for (let i = 0; i < split; i++) await first.nextBatch();
      const resumed = make().restore(JSON.parse(JSON.stringify(first.state())));
      for (let i = split; i < 8; i++) {
        const b = await resumed.nextBatch();
        assert.deepEqual(b.indices, all[i].indices, `split ${split}, batch ${i}`);
        assert.deepEqual(b.flipped, all[i].flipped);
        assert.deepEqual(b.x, all[i].x);
        assert.equal(b.epoch, all[i].epoch);
      }
      assert.deepEqual(resumed.state(), straight.state());
    }
  });

  it('carries labels, and keeps the position when a read fails', async () => {
    const fm = fileURLToPath(new URL('../fixtures/fashion-mnist', import.meta.url));
    const ds = await openImageDataset(fm, { channels: 1, height: 32, width: 32 });
    const dl = new DataLoader(ds, { batchSize: 16, seed: 0 });
    const b = await dl.nextBatch();
    assert.deepEqual(
      b.labels,
      Uint8Array.from(b.indices, (i) => ds.labels?.[i] ?? -1),
    );
    assert.equal(b.x.length, 16 * 32 * 32);

    const coded = new CodedDataset(10);
    const failing = new DataLoader(coded, { batchSize: 3, seed: 5, flip: true });
    const clean = new DataLoader(new CodedDataset(10), { batchSize: 3, seed: 5, flip: true });
    await failing.nextBatch();
    await clean.nextBatch();
    const next = await clean.nextBatch();
    coded.failOn = next.indices[1];
    const before = failing.state();
    await assert.rejects(failing.nextBatch(), /cannot read/);
    assert.deepEqual(failing.state(), before);
    coded.failOn = undefined;
    const retry = await failing.nextBatch();
    assert.deepEqual(retry.x, next.x);
    assert.deepEqual(retry.flipped, next.flipped);
  });

  it('reads in order without shuffle and keeps the short last batch unless dropLast', async () => {
    const dl = new DataLoader(new CodedDataset(5), { batchSize: 2, shuffle: false, dropLast: false });
    const seen: number[][] = [];
    for (let i = 0; i < 4; i++) seen.push([...(await dl.nextBatch()).indices]);
    assert.deepEqual(seen, [[0, 1], [2, 3], [4], [0, 1]]);
  });

  it('refuses impossible settings and foreign states', () => {
    assert.throws(() => new DataLoader(new CodedDataset(3), { batchSize: 4 }), ConfigError);
    assert.throws(() => new DataLoader(new CodedDataset(3), { batchSize: 0 }), ConfigError);
    const state = new DataLoader(new CodedDataset(10), { batchSize: 2 }).state();
    assert.throws(
      () => new DataLoader(new CodedDataset(11), { batchSize: 2 }).restore(state),
      /length 10, this loader 11/,
    );
    assert.throws(() => new DataLoader(new CodedDataset(10), { batchSize: 3 }).restore(state), ConfigError);
    assert.throws(
      () => new DataLoader(new CodedDataset(10), { batchSize: 2 }).restore({ ...state, index: 4 }),
      RangeError,
    );
  });
});
