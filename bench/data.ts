/**
 * Data loading benchmark: opening and reading image folders (1000 small PNGs; large JPEGs), a PNG
 * decompression bomb's refusal, and Fashion-MNIST epochs through the DataLoader. Each case runs in its
 * own process so its peak RSS is its own; large inputs are written by another process first.
 *
 *   node --import tsx bench/data.ts        prints the markdown section
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { DataLoader, openImageDataset, readIdx } from '../src/data/index.js';
import { pngChunk } from '../src/io/png.js';

const FULL_FMNIST = '/usr/share/datasets/fashion-mnist';
const SUBSET = fileURLToPath(new URL('../test/fixtures/fashion-mnist', import.meta.url));

interface Result {
  [key: string]: number | string;
}

const now = () => performance.now();
const rssMiB = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);

/** The cases, each run in a child process: `node --import tsx bench/data.ts --case NAME DIR`. */
const CASES: Record<string, (dir: string) => Promise<Result>> = {
  async smallPngs(dir) {
    const { data } = await readIdx(join(SUBSET, 'train-images-idx3-ubyte.gz'), 3);
    for (let i = 0; i < 1000; i++) {
      const k = i % 256;
      const file = join(dir, `c${i % 10}`, `${String(i).padStart(4, '0')}.png`);
      mkdirSync(join(file, '..'), { recursive: true });
      await sharp(data.subarray(k * 784, (k + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(file);
    }
    const opts = { channels: 1, height: 32, width: 32, resize: 'pad' } as const;
    let t = now();
    const lazy = await openImageDataset(dir, { ...opts, cacheBytes: 0 });
    const headerMs = (now() - t) / 1000;
    const out = new Float32Array(1024);
    t = now();
    for (let i = 0; i < lazy.length; i++) await lazy.read(i, out);
    const lazyReadMs = (now() - t) / 1000;
    t = now();
    const eager = await openImageDataset(dir, opts);
    const eagerMs = (now() - t) / 1000;
    const dl = new DataLoader(eager, { batchSize: 100, seed: 0 });
    t = now();
    for (let b = 0; b < 10; b++) await dl.nextBatch();
    return {
      'open, headers only (ms/file)': headerMs.toFixed(2),
      'read on demand (ms/image)': lazyReadMs.toFixed(2),
      'open, decoded and cached (ms/file)': eagerMs.toFixed(2),
      'cached epoch of 1000 (ms)': (now() - t).toFixed(1),
      'peak RSS (MiB)': rssMiB(),
    };
  },
  async largeJpegs(dir) {
    let t = now();
    const ds = await openImageDataset(dir, { channels: 3, height: 64, width: 64, cacheBytes: 0 });
    const openMs = (now() - t) / ds.length;
    const out = new Float32Array(3 * 64 * 64);
    t = now();
    for (let i = 0; i < ds.length; i++) await ds.read(i, out);
    return {
      'open, headers only (ms/file)': openMs.toFixed(1),
      'read 4000x3000 -> 64x64 (ms/image)': ((now() - t) / ds.length).toFixed(1),
      'peak RSS (MiB)': rssMiB(),
    };
  },
  async pngBomb(dir) {
    const side = 16384;
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, side);
    new DataView(ihdr.buffer).setUint32(4, side);
    ihdr.set([8, 0, 0, 0, 0], 8);
    const png = Buffer.concat([
      new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', deflateSync(new Uint8Array(4 * (side + 1)))),
      pngChunk('IEND', new Uint8Array(0)),
    ]);
    writeFileSync(join(dir, 'bomb.png'), png);
    const t = now();
    const message = await openImageDataset(dir, { channels: 1, height: 32, width: 32 }).then(
      () => 'accepted!',
      (e: Error) => e.message.replace(dir, '…'),
    );
    return {
      'file (bytes)': png.length,
      'refused in (ms)': (now() - t).toFixed(1),
      'peak RSS (MiB)': rssMiB(),
      message,
    };
  },
  async fashionMnist() {
    const source = existsSync(join(FULL_FMNIST, 'train-images-idx3-ubyte.gz')) ? FULL_FMNIST : SUBSET;
    let t = now();
    const ds = await openImageDataset(source, { channels: 1, height: 32, width: 32 });
    const openMs = now() - t;
    const dl = new DataLoader(ds, { batchSize: 128, seed: 0, flip: true });
    t = now();
    for (let b = 0; b < dl.batchesPerEpoch; b++) await dl.nextBatch();
    return {
      images: ds.length,
      'open (ms)': openMs.toFixed(0),
      'epoch, batch 128, flip, padded to 32 (ms)': (now() - t).toFixed(0),
      'peak RSS (MiB)': rssMiB(),
    };
  },
};

/** Inputs made beforehand in their own process, so they do not count in a case's peak RSS. */
const PREPARE: Record<string, (dir: string) => Promise<void>> = {
  async largeJpegs(dir) {
    const w = 4000;
    const h = 3000;
    const img = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 3;
        img.set([(x * 255) / w, (y * 255) / h, 128 + 100 * Math.sin(x / 50) * Math.cos(y / 70)], i);
      }
    }
    for (let i = 0; i < 16; i++) {
      await sharp(img, { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 90 - i })
        .toFile(join(dir, `${i}.jpg`));
    }
  },
};

/** Runs every case in a child process and returns the markdown section. */
export async function runDataBench(): Promise<string> {
  const self = fileURLToPath(import.meta.url);
  const lines = [
    'Each case in its own process (`node --import tsx bench/data.ts`); times are wall-clock on this machine.',
    '',
  ];
  for (const name of Object.keys(CASES)) {
    const dir = mkdtempSync(join(tmpdir(), 'scoresde-bench-data-'));
    try {
      const run = (flag: string) =>
        spawnSync(process.execPath, ['--import', 'tsx', self, flag, name, dir], { encoding: 'utf8' });
      if (PREPARE[name] && run('--prepare').status !== 0)
        throw new Error(`bench/data.ts: preparing ${name} failed`);
      const r = run('--case');
      if (r.status !== 0) throw new Error(`bench/data.ts case ${name} failed:\n${r.stderr}`);
      const result = JSON.parse(r.stdout) as Result;
      lines.push(`**${name}**`, '', '| measure | value |', '| --- | --- |');
      for (const [k, v] of Object.entries(result)) lines.push(`| ${k} | ${v} |`);
      lines.push('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [flag, name, dir] = process.argv.slice(2);
  const main =
    flag === '--case'
      ? CASES[name](dir).then((r) => JSON.stringify(r))
      : flag === '--prepare'
        ? PREPARE[name](dir).then(() => '')
        : runDataBench();
  main.then(
    (out) => console.log(out),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
