import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../src/errors.js';
import { parseTorchCheckpoint } from '../../src/io/torch-pickle.js';
import { ZipArchive } from '../../src/io/zip.js';
import { buildZip, bytesOf, stateDictPickle, torchZip, type ZipInput } from './builders.js';

const BIN = fileURLToPath(
  new URL('../fixtures/models/tiny-ncsnpp/diffusion_pytorch_model.bin', import.meta.url),
);

function rejects(bytes: Uint8Array, pattern: RegExp, read?: string) {
  assert.throws(
    () => {
      const zip = ZipArchive.open(bytes, 'bad.zip');
      if (read) zip.read(read);
    },
    (e: Error) => {
      assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${e.name}: ${e.message}`);
      assert.match(e.message, /^bad\.zip: /);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

const text = (s: string) => Uint8Array.from(Buffer.from(s));
const ENTRIES: ZipInput[] = [
  { name: 'a.txt', data: text('hello hello hello hello') },
  { name: 'dir/b.bin', data: Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff), method: 8 },
  { name: 'empty', data: new Uint8Array(0) },
];

/** Offset of the central directory record for `name` in a non-ZIP64 archive. */
function centralOf(zip: Uint8Array, name: string): number {
  const dv = new DataView(zip.buffer, zip.byteOffset);
  const eocd = zip.length - 22;
  let p = dv.getUint32(eocd + 16, true);
  for (;;) {
    const n = dv.getUint16(p + 28, true);
    if (Buffer.from(zip.subarray(p + 46, p + 46 + n)).toString() === name) return p;
    p += 46 + n + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
}

function patched(zip: Uint8Array, edit: (dv: DataView, bytes: Uint8Array) => void): Uint8Array {
  const copy = zip.slice();
  edit(new DataView(copy.buffer), copy);
  return copy;
}

describe('ZipArchive', () => {
  it('reads the fixture checkpoint torch wrote (ZIP64 records, data descriptors, 64-byte aligned data)', async () => {
    const zip = ZipArchive.open(await readFile(BIN), BIN);
    assert.equal(zip.entries.size, 387);
    assert.equal(Buffer.from(zip.read('diffusion_pytorch_model/version')).toString(), '3\n');
    const pkl = zip.entries.get('diffusion_pytorch_model/data.pkl');
    assert.equal(pkl?.size, 63169);
    assert.equal(pkl?.headerOffset, 0);
    for (const entry of zip.entries.values()) {
      const data = zip.read(entry.name); // CRC-checked
      assert.equal(data.length, entry.size);
      if (entry.name.includes('/data/')) assert.equal(entry.dataOffset % 64, 0, entry.name);
    }
  });

  for (const [label, options] of [
    ['plain', {}],
    ['ZIP64 with extra fields and data descriptors', { zip64: true, zip64Extra: true, dataDescriptor: true }],
  ] as const) {
    it(`reads stored and deflated entries (${label})`, () => {
      const zip = ZipArchive.open(buildZip(ENTRIES, options), 'ok.zip');
      assert.deepEqual([...zip.entries.keys()], ['a.txt', 'dir/b.bin', 'empty']);
      for (const e of ENTRIES) assert.deepEqual(zip.read(e.name), e.data);
      assert.equal(zip.entries.get('dir/b.bin')?.method, 8);
      assert.throws(() => zip.read('nope'), /ok\.zip: ZIP archive has no entry "nope"/);
    });
  }

  it('accepts a trailing archive comment', () => {
    const zip = buildZip(ENTRIES);
    const withComment = new Uint8Array(zip.length + 5);
    withComment.set(zip);
    withComment.set(text('hello'), zip.length);
    new DataView(withComment.buffer).setUint16(zip.length - 2, 5, true);
    assert.deepEqual(ZipArchive.open(withComment, 'c.zip').read('a.txt'), ENTRIES[0].data);
  });

  it('rejects truncation at every offset', () => {
    const zip = buildZip(ENTRIES, { zip64: true, dataDescriptor: true });
    for (let cut = 0; cut < zip.length; cut++) rejects(zip.subarray(0, cut), /invalid ZIP archive: /);
  });

  it('rejects inconsistent end records', () => {
    const zip = buildZip(ENTRIES);
    const eocd = zip.length - 22;
    rejects(
      patched(zip, (dv) => dv.setUint16(eocd + 10, 4, true)),
      /entry counts disagree/,
    );
    rejects(
      patched(zip, (dv) => {
        dv.setUint16(eocd + 8, 1000, true);
        dv.setUint16(eocd + 10, 1000, true);
      }),
      /1000 entries cannot fit/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(eocd + 16, zip.length, true)),
      /central directory .* runs past its end/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(eocd + 12, 0xffffff, true)),
      /runs past its end/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(eocd + 4, 1, true)),
      /multi-disk/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(eocd + 16, 0xffffffff, true)),
      /ZIP64 end-of-central-directory locator missing/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(eocd + 20, 3, true)),
      /end-of-central-directory record not found/,
    );
    const z64 = buildZip(ENTRIES, { zip64: true });
    const locator = z64.length - 22 - 20;
    rejects(
      patched(z64, (dv) => dv.setBigUint64(locator + 8, BigInt(z64.length), true)),
      /ZIP64 end-of-central-directory offset \d+ is out of bounds/,
    );
    rejects(
      patched(z64, (dv) => dv.setBigUint64(locator + 8, 0n, true)),
      /no ZIP64 end-of-central-directory record at offset 0/,
    );
    rejects(
      patched(z64, (dv) => dv.setBigUint64(locator - 56 + 48, 2n ** 60n, true)),
      /ZIP64 central directory offset 1152921504606846976 is too large/,
    );
    const cdCount = z64.length - 22 - 20 - 56 + 32;
    rejects(
      patched(z64, (dv) => dv.setBigUint64(cdCount, 2n, true)),
      /ZIP64 entry counts disagree/,
    );
  });

  it('rejects bad central directory and local headers', () => {
    const zip = buildZip(ENTRIES);
    const b = centralOf(zip, 'dir/b.bin');
    const a = centralOf(zip, 'a.txt');
    rejects(
      patched(zip, (dv) => dv.setUint32(b, 0x12345678, true)),
      /bad signature for central directory entry 1/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(b + 10, 99, true)),
      /entry "dir\/b\.bin" uses unsupported compression method 99/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(b + 8, dv.getUint16(b + 8, true) | 1, true)),
      /entry "dir\/b\.bin" is encrypted/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(a + 42, zip.length, true)),
      /entry "a\.txt" local header offset \d+ is out of bounds/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(a + 42, 1, true)),
      /entry "a\.txt" has no local header at offset 1/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(a + 20, 24, true)),
      /stored entry "a\.txt" has compressed size 24 but size 23/,
    );
    const zipDD = buildZip(ENTRIES, { dataDescriptor: true }); // local headers without sizes
    const aDD = centralOf(zipDD, 'a.txt');
    rejects(
      patched(zipDD, (dv) => {
        dv.setUint32(aDD + 20, 1e6, true);
        dv.setUint32(aDD + 24, 1e6, true);
      }),
      /entry "a\.txt" data .* runs past the central directory/,
    );
    rejects(
      patched(zip, (_, bytes) => bytes.set(text('A'), 30)),
      /entry "a\.txt" local header has a different name/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(8, 8, true)),
      /local header disagrees with the directory on the compression method/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(14, 0, true)),
      /local header disagrees with the directory on CRC or sizes/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(a + 30, 0xffff, true)),
      /runs past the directory's end/,
    );
    rejects(
      patched(zip, (_, bytes) => bytes.set([0xff], a + 46)),
      /not valid UTF-8/,
    );
    rejects(buildZip([ENTRIES[0], ENTRIES[0]]), /duplicate entry "a\.txt"/);
    rejects(
      patched(zip, (dv) => dv.setUint16(a + 34, 2, true)),
      /on disk 2; multi-disk/,
    );
  });

  it('rejects a truncated or lying ZIP64 extra field', () => {
    const zip = buildZip([ENTRIES[0]], { zip64Extra: true });
    const a = centralOf(zip, 'a.txt');
    // The extra field holds 3 × 8 bytes; claim only 8.
    rejects(
      patched(zip, (dv) => dv.setUint16(a + 46 + 5 + 2, 8, true)),
      /ZIP64 extra field too short for its compressed size/,
    );
    rejects(
      patched(zip, (dv) => dv.setUint16(a + 46 + 5 + 2, 200, true)),
      /extra field running past its end/,
    );
    rejects(
      patched(zip, (dv) => dv.setBigUint64(a + 46 + 5 + 20, 2n ** 62n, true)),
      /header offset 4611686018427387904 is too large/,
    );
  });

  it('rejects entries that overlap (ZIP-bomb style)', () => {
    // Entry "b"'s local header is embedded in entry "a"'s data; pointing b's directory record there overlaps them.
    const inner = buildZip([{ name: 'b', data: text('payload') }]);
    const localB = inner.subarray(0, 30 + 1 + 7);
    const zip = buildZip([
      { name: 'a', data: localB },
      { name: 'b', data: text('payload') },
    ]);
    const b = centralOf(zip, 'b');
    rejects(
      patched(zip, (dv) => dv.setUint32(b + 42, 30 + 1, true)),
      /entries "a" and "b" overlap/,
    );
  });

  it('checks CRCs and bounds inflation', () => {
    const zip = buildZip(ENTRIES, { dataDescriptor: true });
    const b = centralOf(zip, 'dir/b.bin');
    const dataA = 30 + 5;
    rejects(
      patched(zip, (_, bytes) => (bytes[dataA] ^= 1)),
      /entry "a\.txt" is corrupt \(CRC-32 0x[0-9a-f]{8}, the directory says 0x[0-9a-f]{8}\)/,
      'a.txt',
    );
    const dataB = new DataView(zip.buffer).getUint32(b + 42, true) + 30 + 9;
    rejects(
      patched(zip, (_, bytes) => bytes.fill(0xff, dataB, dataB + 4)),
      /entry "dir\/b\.bin" does not inflate/,
      'dir/b.bin',
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(b + 24, 299, true)),
      /entry "dir\/b\.bin" does not inflate/,
      'dir/b.bin',
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(b + 24, 301, true)),
      /inflates to 300 bytes, the directory says 301/,
      'dir/b.bin',
    );
    rejects(
      patched(zip, (dv) => dv.setUint32(b + 24, 0xfffffff0, true)),
      /deflated entry "dir\/b\.bin" claims 4294967280 bytes from \d+ \(impossible ratio\)/,
    );
    assert.deepEqual(ZipArchive.open(zip, 'ok.zip').read('a.txt'), ENTRIES[0].data);
  });

  it('random byte flips anywhere in a checkpoint give a FileFormatError or the same tensors', () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => i / 8);
    const pickle = stateDictPickle([
      {
        name: 'x',
        storageKey: '0',
        storageClass: 'FloatStorage',
        storageNumel: 64,
        offset: 0,
        size: [8, 8],
        stride: [8, 1],
      },
      {
        name: 'y',
        storageKey: '0',
        storageClass: 'FloatStorage',
        storageNumel: 64,
        offset: 0,
        size: [8, 8],
        stride: [1, 8],
      },
    ]);
    const good = torchZip(pickle, { '0': bytesOf(values) });
    const expected = parseTorchCheckpoint(good, 'good.bin');
    let seed = 777;
    const next = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    let rejected = 0;
    for (let trial = 0; trial < 1500; trial++) {
      const bytes = good.slice();
      bytes[next() % bytes.length] ^= 1 << (next() % 8);
      try {
        const sd = parseTorchCheckpoint(bytes, 'flip.bin');
        // Harmless fields (timestamps, version numbers, padding) may change; the tensors may not.
        assert.deepEqual([...sd.keys()], ['x', 'y']);
        for (const k of ['x', 'y'])
          assert.deepEqual(sd.get(k)?.data, expected.get(k)?.data, `trial ${trial}`);
      } catch (e) {
        assert.ok(
          e instanceof FileFormatError && e.message.startsWith('flip.bin'),
          `trial ${trial}: ${(e as Error).message}`,
        );
        rejected++;
      }
    }
    assert.ok(rejected > 500, `only ${rejected} of 1500 flips were rejected`);
  });

  it("byte flips in the fixture checkpoint's central directory give a FileFormatError or the same tensors", async () => {
    const bytes = Uint8Array.from(await readFile(BIN));
    const expected = parseTorchCheckpoint(bytes, BIN);
    const dv = new DataView(bytes.buffer);
    const cdOffset = dv.getUint32(bytes.length - 22 + 16, true);
    const cdEnd = cdOffset + dv.getUint32(bytes.length - 22 + 12, true);
    let seed = 4242;
    let rejected = 0;
    for (let trial = 0; trial < 40; trial++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const at = cdOffset + (seed % (cdEnd - cdOffset));
      const bit = 1 << (seed >>> 29);
      bytes[at] ^= bit;
      try {
        const sd = parseTorchCheckpoint(bytes, 'cd.bin');
        assert.deepEqual([...sd.keys()], [...expected.keys()]);
        for (const [k, t] of sd) assert.deepEqual(t.data, expected.get(k)?.data, `trial ${trial}, ${k}`);
      } catch (e) {
        assert.ok(
          e instanceof FileFormatError && e.message.startsWith('cd.bin: '),
          `trial ${trial}: ${(e as Error).message}`,
        );
        rejected++;
      }
      bytes[at] ^= bit;
    }
    assert.ok(rejected >= 10, `only ${rejected} of 40 flips were rejected`);
  });

  it('rejects the fixture checkpoint truncated at many offsets, naming the file', async () => {
    const bytes = await readFile(BIN);
    const cuts = [0, 1, 4, 21, 22, 100, 63_000];
    for (let k = 1; k < 100; k++) cuts.push(Math.floor((bytes.length * k) / 100));
    for (let k = 1; k <= 150; k++) cuts.push(bytes.length - k);
    for (const cut of cuts) {
      assert.throws(
        () => parseTorchCheckpoint(bytes.subarray(0, cut), BIN),
        (e: Error) => e instanceof FileFormatError && e.message.startsWith(`${BIN}: `),
        `cut at ${cut}`,
      );
    }
  });
});
