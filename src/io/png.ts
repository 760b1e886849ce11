/**
 * PNG encode/decode for 8-bit images (what the pipeline's uint8 output needs), with node:zlib for the compression.
 * The decoder treats input as untrusted: chunk lengths and CRCs are checked, the inflated size is bounded by the
 * header's dimensions, and unsupported variants (16-bit, sub-byte, interlaced) get a clear error.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { FileFormatError } from '../errors.js';
import { crc32 } from './crc32.js';

export interface Image {
  width: number;
  height: number;
  /** 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** Row-major interleaved samples, height × width × channels. */
  data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** PNG colour type for each channel count (8-bit samples). */
const COLOR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };
/** Channels per colour type (palette expands to RGB or RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Largest image decodePNG accepts by default: 2^24 pixels (4096×4096; 64 MiB as RGBA), far above any model's size. */
export const MAX_PNG_PIXELS = 2 ** 24;
const MAX_DIM = 2 ** 31 - 1;

export interface DecodePngOptions {
  /** Refuse images with more pixels than this (checked from the header, before inflating). Default MAX_PNG_PIXELS. */
  maxPixels?: number;
  /** Refuse images of another size (height, width), checked from the header before inflating. */
  size?: readonly [number, number];
}

/** One PNG chunk: length, type, data and CRC (exported for tests and tools that craft PNGs). */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes 8-bit samples as a PNG (filter type 0 on every row, zlib level 6). */
export function encodePNG(image: Image): Uint8Array {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || width < 1 || width > MAX_DIM)
    throw new RangeError(`encodePNG: invalid width ${width}`);
  if (!Number.isInteger(height) || height < 1 || height > MAX_DIM)
    throw new RangeError(`encodePNG: invalid height ${height}`);
  if (!Object.hasOwn(COLOR_TYPE, channels))
    throw new RangeError(`encodePNG: channels must be 1, 2, 3 or 4, got ${channels}`);
  if (!(data instanceof Uint8Array)) throw new TypeError('encodePNG: data must be a Uint8Array');
  const stride = width * channels;
  if (data.length !== stride * height) {
    throw new RangeError(
      `encodePNG: data has ${data.length} bytes, ${width}×${height}×${channels} needs ${stride * height}`,
    );
  }
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels];
  const parts = [
    Uint8Array.from(SIGNATURE),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * Decodes an 8-bit, non-interlaced PNG. Palette images become RGB (RGBA if they carry tRNS). One pass over
 * the chunks, then unfiltering: kept in one body so every bound check sits next to the read it guards.
 */
export function decodePNG(bytes: Uint8Array, file = '<png>', options: DecodePngOptions = {}): Image {
  const fail: (msg: string) => never = (msg) => {
    throw new FileFormatError(file, `invalid PNG: ${msg}`);
  };
  const { maxPixels = MAX_PNG_PIXELS, size } = options;
  if (bytes.length < 8 || !SIGNATURE.every((b, i) => bytes[i] === b)) fail('missing PNG signature');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let header: { width: number; height: number; colorType: number } | undefined;
  let palette: Uint8Array | undefined;
  let alpha: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (pos + 12 > bytes.length) fail(`chunk at byte ${pos} is truncated (no IEND)`);
    const length = dv.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) fail(`bad chunk type at byte ${pos}`);
    if (length > 0x7fffffff || pos + 12 + length > bytes.length)
      fail(`${type} chunk of ${length} bytes runs past the end of the file (truncated?)`);
    const body = bytes.subarray(pos + 8, pos + 8 + length);
    const crc = dv.getUint32(pos + 8 + length);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + length)) !== crc)
      fail(`${type} chunk at byte ${pos} has a bad CRC (corrupt file)`);
    if (!header && type !== 'IHDR') fail(`first chunk is ${type}, not IHDR`);
    switch (type) {
      case 'IHDR': {
        if (header) fail('more than one IHDR');
        if (length !== 13) fail(`IHDR has ${length} bytes, not 13`);
        const width = dv.getUint32(pos + 8);
        const height = dv.getUint32(pos + 12);
        const [depth, colorType, compression, filter, interlace] = body.subarray(8);
        if (width < 1 || height < 1 || width > MAX_DIM || height > MAX_DIM)
          fail(`invalid size ${width}×${height}`);
        if (!Object.hasOwn(CHANNELS, colorType)) fail(`invalid colour type ${colorType}`);
        if (depth !== 8) fail(`bit depth ${depth} is not supported (only 8-bit images)`);
        if (compression !== 0 || filter !== 0) fail('unknown compression or filter method');
        if (interlace !== 0) fail('interlaced (Adam7) images are not supported');
        if (size && (height !== size[0] || width !== size[1])) {
          throw new FileFormatError(
            file,
            `image is ${width}×${height}, the model needs ${size[1]}×${size[0]}`,
          );
        }
        if (width * height > maxPixels)
          fail(`${width}×${height} image is too large (more than ${maxPixels} pixels)`);
        header = { width, height, colorType };
        break;
      }
      case 'PLTE':
        if (length === 0 || length % 3 !== 0 || length > 768) fail(`PLTE has ${length} bytes`);
        palette = body;
        break;
      case 'tRNS':
        alpha = body;
        break;
      case 'IDAT':
        idat.push(body);
        break;
      case 'IEND':
        ended = true;
        break;
      default:
        // Ancillary chunks (lower-case first letter) may be skipped; unknown critical ones may not.
        if (type.charCodeAt(0) < 0x61) fail(`unknown critical chunk ${type}`);
    }
    pos += 12 + length;
  }
  if (!header) return fail('no IHDR chunk');
  const { width, height, colorType } = header;
  if (colorType === 3 && !palette) fail('palette image without PLTE');
  if (idat.length === 0) fail('no IDAT chunk');
  const bpp = CHANNELS[colorType];
  const stride = width * bpp;
  const expected = (stride + 1) * height;
  let raw: Uint8Array = new Uint8Array(0);
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected });
  } catch (e) {
    fail(`image data does not inflate (${(e as Error).message})`);
  }
  if (raw.length !== expected)
    fail(`image data inflates to ${raw.length} bytes, ${width}×${height} needs ${expected}`);
  const pixels = unfilter(raw, width, height, bpp, fail);
  if (colorType !== 3) return { width, height, channels: bpp as Image['channels'], data: pixels };

  // Palette → RGB(A); tRNS gives alpha for the first entries, the rest are opaque.
  const pal = palette as Uint8Array;
  const entries = pal.length / 3;
  if (alpha && alpha.length > entries) fail(`tRNS has ${alpha.length} entries, the palette ${entries}`);
  const channels = alpha ? 4 : 3;
  const out = new Uint8Array(width * height * channels);
  for (let i = 0; i < pixels.length; i++) {
    const k = pixels[i];
    if (k >= entries) fail(`pixel ${i} uses palette index ${k}, the palette has ${entries} entries`);
    out[i * channels] = pal[3 * k];
    out[i * channels + 1] = pal[3 * k + 1];
    out[i * channels + 2] = pal[3 * k + 2];
    if (alpha) out[i * channels + 3] = k < alpha.length ? alpha[k] : 255;
  }
  return { width, height, channels, data: out };
}

/** Reverses the per-row filters (None, Sub, Up, Average, Paeth) into height × stride samples. */
function unfilter(
  raw: Uint8Array,
  width: number,
  height: number,
  bpp: number,
  fail: (msg: string) => never,
): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride; // previous row in `out` (y > 0)
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp] : 0;
      const b = y > 0 ? out[prev + x] : 0;
      let v = raw[src + x];
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4: {
          const c = x >= bpp && y > 0 ? out[prev + x - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          fail(`row ${y} has unknown filter type ${filter}`);
      }
      out[row + x] = v; // Uint8Array stores v mod 256
    }
  }
  return out;
}
