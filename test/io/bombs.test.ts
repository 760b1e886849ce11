/**
 * Decompression bombs (issue 12, hardening 1): a small checkpoint whose deflated storages claim GiBs, and a small
 * PNG whose header claims 16384×16384, must fail within seconds and far below 2 GB, naming the file. Each file is
 * loaded in a child process so that its peak RSS can be measured (and a regression cannot take this process down).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32 } from '../../src/io/crc32.js';
import { buildZip, deflatedZeros, floatTensorSpec, stateDictPickle, withTempDir } from './builders.js';

const PROBE = fileURLToPath(new URL('./load-probe.ts', import.meta.url));
/** Generous bounds: a node + tsx child alone peaks near 150 MiB; the bombs need GiBs and tens of seconds. */
const MAX_RSS_MIB = 600;
const TIMEOUT_MS = 30_000;

interface Probe {
  error?: { name: string; message: string };
  maxRssMiB: number;
  ms: number;
}

function probe(args: string[]): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PROBE, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0)
        reject(new Error(`probe exited with ${code ?? signal} (killed after ${TIMEOUT_MS} ms?)`));
      else resolve(JSON.parse(out) as Probe);
    });
  });
}

function assertFailsCheaply(r: Probe, file: string, message: RegExp): void {
  assert.ok(r.error, 'the hostile file was accepted');
  assert.equal(r.error.name, 'FileFormatError', r.error.message);
  assert.ok(r.error.message.includes(file), `"${r.error.message}" does not name ${file}`);
  assert.match(r.error.message, message);
  assert.ok(r.maxRssMiB < MAX_RSS_MIB, `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
  assert.ok(r.ms < 10_000, `took ${r.ms.toFixed(0)} ms`);
}

describe('decompression bombs', () => {
  it('a 5 MB checkpoint with five deflated 1 GiB zero storages fails fast', async () => {
    await withTempDir(async (dir) => {
      const numel = 2 ** 28; // float32: 1 GiB each, exactly what the pickle declares
      const keys = ['0', '1', '2', '3', '4'];
      const pickle = stateDictPickle(
        keys.map((k) => ({
          name: `w${k}`,
          storageKey: k,
          storageClass: 'FloatStorage',
          storageNumel: numel,
          offset: 0,
          size: [numel],
          stride: [1],
        })),
      );
      const zeros = { body: deflatedZeros(4 * numel), size: 4 * numel, crc: 0 };
      const bytes = buildZip(
        [
          { name: 'archive/data.pkl', data: pickle },
          ...keys.map((k) => ({ name: `archive/data/${k}`, data: new Uint8Array(0), deflated: zeros })),
          { name: 'archive/version', data: Buffer.from('3\n') },
        ],
        { zip64: true, dataDescriptor: true },
      );
      assert.ok(bytes.length > 5e6 && bytes.length < 6e6, `${bytes.length} bytes`);
      const file = join(dir, 'bomb.bin');
      await writeFile(file, bytes);
      assertFailsCheaply(await probe(['weights', file]), file, /would inflate to 1073741824 bytes/);
    });
  });

  it('a deflated storage that claims more than its tensor needs is refused before inflating', async () => {
    await withTempDir(async (dir) => {
      const pickle = stateDictPickle([floatTensorSpec()]);
      const bytes = buildZip(
        [
          { name: 'archive/data.pkl', data: pickle },
          {
            name: 'archive/data/0',
            data: new Uint8Array(0),
            deflated: { body: deflatedZeros(2 ** 29), size: 2 ** 29, crc: 0 },
          },
        ],
        { zip64: true },
      );
      const file = join(dir, 'bomb.bin');
      await writeFile(file, bytes);
      assertFailsCheaply(
        await probe(['weights', file]),
        file,
        /storage "0" has 536870912 bytes, 4 × float32 needs 16/,
      );
    });
  });

  it('a 1 MB PNG declaring 16384×16384 fails from its header', async () => {
    await withTempDir(async (dir) => {
      const side = 16384;
      // Filter byte 0 + black RGB pixels: 805 MB raw, ~0.8 MB as a zlib stream (adler-32 of n zeros = n << 16 | 1).
      const n = (side * 3 + 1) * side;
      const adler = Buffer.alloc(4);
      adler.writeUInt32BE((((n % 65521) << 16) | 1) >>> 0);
      const zlib = Buffer.concat([Buffer.from([0x78, 0x01]), deflatedZeros(n), adler]);
      const chunk = (type: string, data: Uint8Array) => {
        const out = Buffer.alloc(12 + data.length);
        out.writeUInt32BE(data.length, 0);
        out.write(type, 4, 'latin1');
        out.set(data, 8);
        out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
        return out;
      };
      const ihdr = Buffer.alloc(13);
      ihdr.writeUInt32BE(side, 0);
      ihdr.writeUInt32BE(side, 4);
      ihdr.set([8, 2, 0, 0, 0], 8);
      const png = Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk('IHDR', ihdr),
        chunk('IDAT', zlib),
        chunk('IEND', new Uint8Array(0)),
      ]);
      assert.ok(png.length < 2e6, `${png.length} bytes`);
      const file = join(dir, 'bomb.png');
      await writeFile(file, png);
      assertFailsCheaply(await probe(['png', file]), file, /16384×16384 image is too large/);
      // With the model's size, any other size is refused from the header too.
      assertFailsCheaply(
        await probe(['png', file, '32', '32']),
        file,
        /image is 16384×16384, the model needs 32×32/,
      );
    });
  });
});
