/** Shared helpers of the data tests: temporary folders, images written with sharp, hand-made PNGs. */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { openImageDataset } from '../../src/data/index.js';
import { FileFormatError } from '../../src/errors.js';
import { pngChunk as chunk } from '../../src/io/png.js';

/** A fresh temporary folder, removed when the test file ends. */
export function tempDir(prefix = 'scoresde-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts that `p` rejects with a FileFormatError naming `file`, its message matching `pattern`. */
export async function rejectsFile(p: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${e}`);
    assert.equal(e.file, file);
    assert.match(e.message, pattern);
    return true;
  });
}

/** Deterministic pseudo-random bytes (an LCG). */
export function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Interleaved (h, w, c) uint8 pixels. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** sharp for raw pixels (1 channel is grey, 3 sRGB, 4 sRGB + alpha). */
export function fromPixels(p: Pixels): Sharp {
  return sharp(p.data, { raw: { width: p.width, height: p.height, channels: p.channels } });
}

/** Writes `p` as a lossless PNG. */
export async function writePng(file: string, p: Pixels): Promise<void> {
  await fromPixels(p).png().toFile(file);
}

/** `dir` opened as a dataset with `options`, and the warnings it gave. */
export async function openWarned(dir: string, options: Parameters<typeof openImageDataset>[1]) {
  const warnings: string[] = [];
  const ds = await openImageDataset(dir, { ...options, onWarning: (m) => warnings.push(m) });
  return { ds, warnings };
}

/** Pixel (x, y, c) of interleaved pixels. */
export const px = (p: Pixels, x: number, y: number, c: number) => p.data[(y * p.width + x) * p.channels + c];

/** Value (c, y, x) of a (C, H, W) float image, as its 8-bit value. */
export const at = (out: Float32Array, H: number, W: number, c: number, y: number, x: number) =>
  Math.round(out[(c * H + y) * W + x] * 255);

/**
 * A valid-looking 8-bit grey PNG declaring width x height whose IDAT holds only a few compressed rows: a
 * decompression bomb in a few hundred bytes (decoding it fully would need width·height bytes).
 */
export function pngBomb(width: number, height: number, rows = 4): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const idat = deflateSync(new Uint8Array(rows * (width + 1)));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ];
  return Buffer.concat(parts);
}
