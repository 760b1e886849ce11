/**
 * Hostile data folders (issue 23): special files, links out of the folder and in loops, names that are not
 * UTF-8, a 67,000,000×1 PNG, and a folder too large to decode when opened. What was read is counted
 * (readCounter), never timed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EAGER_DECODE_MAX_FILES } from '../../src/data/image-folder.js';
import { openImageDataset } from '../../src/data/index.js';
import { readSampleFolder } from '../../src/evaluation/sample-folder.js';
import { encodePNG } from '../../src/io/index.js';
import { readCounter } from '../../src/io/read-file.js';
import { openWarned, pngBomb, tempDir } from './helpers.js';

const png = (v: number) => encodePNG({ width: 4, height: 4, channels: 1, data: new Uint8Array(16).fill(v) });
const target = { channels: 1, height: 4, width: 4 } as const;

/** A folder with two good images, then whatever `extra` adds. */
function folder(dir: string, extra: (d: string) => void = () => {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'a.png'), png(10));
  writeFileSync(join(dir, 'b.png'), png(200));
  extra(dir);
  return dir;
}

describe('data folders: special files and links', () => {
  const root = tempDir();

  it('skips a FIFO, a link to /dev/zero, a dangling link and a folder named .png, counting them', async () => {
    const dir = folder(join(root, 'specials'), (d) => {
      execFileSync('mkfifo', [join(d, 'fifo.png')]);
      symlinkSync('/dev/zero', join(d, 'zero.png'));
      symlinkSync(join(d, 'missing.png'), join(d, 'dangling.png'));
      mkdirSync(join(d, 'dir.png'));
    });
    const { ds, warnings } = await openWarned(dir, target);
    assert.equal(ds.length, 2);
    const line = warnings.find((w) => w.includes('skipped 3 entries'));
    assert.ok(line, warnings.join('\n'));
    assert.match(line, /dangling\.png: a dangling link/);
    assert.match(line, /fifo\.png: a FIFO/);
    assert.match(line, /zero\.png: a link leading outside the folder \(to \/dev\/zero\)/);
  });

  it('does not follow a link to / or out of the folder, follows one inside, and visits a loop once', async () => {
    const dir = folder(join(root, 'links'), (d) => {
      mkdirSync(join(d, 'sub'));
      writeFileSync(join(d, 'sub', 'c.png'), png(90));
      symlinkSync('/', join(d, 'sub', 'root'));
      symlinkSync('..', join(d, 'sub', 'up')); // back to the data folder: a loop
      symlinkSync(join(d, 'sub'), join(d, 'again')); // the same folder under a second name
      symlinkSync(join(root, 'specials', 'a.png'), join(d, 'outside.png'));
    });
    const before = readCounter.files;
    const { ds, warnings } = await openWarned(dir, target);
    assert.equal(ds.length, 3, 'a, b, sub/c once');
    assert.equal(readCounter.files - before, 3, 'nothing outside the folder was opened');
    const line = warnings.find((w) => w.includes('skipped 2 entries')) ?? '';
    assert.match(line, /outside\.png: a link leading outside the folder/);
    assert.match(line, /(sub|again)\/root: a link leading outside the folder \(to \/\)/);
  });

  it('opens and reads a file whose name is not UTF-8 by its raw bytes', async () => {
    const dir = folder(join(root, 'latin1'));
    const name = Buffer.from([0x63, 0xe9, 0x2e, 0x70, 0x6e, 0x67]); // "cé.png" in Latin-1
    writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), name]), png(77));
    const { ds } = await openWarned(dir, target);
    assert.equal(ds.length, 3);
    const out = new Float32Array(16);
    const values = [];
    for (let i = 0; i < 3; i++) {
      await ds.read(i, out);
      values.push(Math.round(out[0] * 255));
    }
    assert.deepEqual(
      values.sort((x, y) => x - y),
      [10, 77, 200],
    );
  });
});

describe('data folders: size bounds', () => {
  const root = tempDir();

  it('refuses a 67,000,000×1 PNG (65 KB) and a 100,000×1 one from their headers, by resized size', async () => {
    const dir = folder(join(root, 'wide'));
    writeFileSync(join(dir, 'wide.png'), pngBomb(67_000_000, 1, 1));
    writeFileSync(join(dir, 'narrow.png'), pngBomb(100_000, 1, 1));
    await assert.rejects(
      openImageDataset(dir, { channels: 1, height: 32, width: 32 }),
      /narrow\.png: image is 100000x1: resized for the model's 32x32 it would be 3200000x32 = 102400000 pixels, over the limit/,
    );
    const skipping = { channels: 1, height: 32, width: 32, skipUnreadable: true };
    const { ds, warnings } = await openWarned(dir, skipping);
    assert.equal(ds.length, 2);
    assert.ok(warnings.some((w) => /wide\.png: image is 67000000x1: resized .* 2144000000x32/.test(w)));
  });

  it(`indexes a folder of more than ${EAGER_DECODE_MAX_FILES} files from headers, with progress`, async () => {
    const dir = join(root, 'many');
    mkdirSync(dir);
    const n = EAGER_DECODE_MAX_FILES + 10;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const file = png(i % 256);
      writeFileSync(join(dir, `${i}.png`), file);
      bytes += file.length;
    }
    const progress: [number, number][] = [];
    const before = { ...readCounter };
    const ds = await openImageDataset(dir, { ...target, onProgress: (d, t) => progress.push([d, t]) });
    assert.equal(ds.length, n);
    assert.equal(readCounter.files - before.files, n, 'each file opened once');
    assert.equal(readCounter.bytes - before.bytes, bytes, 'each file read once, whole');
    assert.deepEqual(progress.at(-1), [n, n]);
    assert.ok(
      progress.some(([d]) => d === 0),
      'the walk reports entries before checking starts',
    );
    const out = new Float32Array(16);
    await ds.read(n - 1, out); // decoded when first read
    const sorted = [...Array(n).keys()].map(String).sort();
    assert.equal(Math.round(out[0] * 255), Number(sorted[n - 1]) % 256);
  });
});

describe('evaluate --samples folders', () => {
  const root = tempDir();

  it('skips a FIFO and a link to /dev/urandom with a counted warning, and bounds the batch by bytes', async () => {
    const dir = folder(join(root, 'samples'), (d) => {
      execFileSync('mkfifo', [join(d, 'c.png')]);
      symlinkSync('/dev/urandom', join(d, 'd.png'));
    });
    const warnings: string[] = [];
    const batch = await readSampleFolder(dir, Number.POSITIVE_INFINITY, {
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(batch.dims, [2, 1, 4, 4]);
    assert.deepEqual(warnings, [`${dir}: skipped 2 .png entries that are not regular files (c.png, d.png)`]);
    await assert.rejects(
      readSampleFolder(dir, Number.POSITIVE_INFINITY, { maxBytes: 100 }),
      /2 images of 1×4×4 .* need 0\.0 GiB, more than the 0\.0 GiB allowed; evaluate fewer with --count/,
    );
  });
});
