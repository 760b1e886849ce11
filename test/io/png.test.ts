import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deflateSync, inflateSync } from 'node:zlib';
import { FileFormatError } from '../../src/errors.js';
import { crc32, crc32Table } from '../../src/io/crc32.js';
import { pngChunk as chunk, decodePNG, encodePNG, type Image } from '../../src/io/png.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { noise } from '../data/helpers.js';

const PIPELINE = fileURLToPath(
  new URL('../fixtures/pipeline/tiny-ncsnpp_N10_b1_generator0.safetensors', import.meta.url),
);

function ihdr(width: number, height: number, colorType: number, depth = 8, interlace = 0): Uint8Array {
  const b = new Uint8Array(13);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  b.set([depth, colorType, 0, 0, interlace], 8);
  return chunk('IHDR', b);
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const IEND = chunk('IEND', new Uint8Array(0));
const png = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat([SIGNATURE, ...parts]));

/** The PNG spec's filters, encoder side: filtered byte = raw − predictor (mod 256). */
function filterRows(
  pixels: Uint8Array,
  width: number,
  height: number,
  bpp: number,
  filterOf: (y: number) => number,
): Uint8Array {
  const stride = width * bpp;
  const out = new Uint8Array((stride + 1) * height);
  const at = (x: number, y: number) => (x < 0 || y < 0 ? 0 : pixels[y * stride + x]);
  for (let y = 0; y < height; y++) {
    const f = filterOf(y);
    out[y * (stride + 1)] = f;
    for (let x = 0; x < stride; x++) {
      const a = at(x - bpp, y);
      const b = at(x, y - 1);
      const c = at(x - bpp, y - 1);
      const paeth = (() => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      })();
      const predictor = [0, a, b, Math.floor((a + b) / 2), paeth][f];
      out[y * (stride + 1) + 1 + x] = (at(x, y) - predictor) & 0xff;
    }
  }
  return out;
}

function rejects(data: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => decodePNG(data, 'bad.png'),
    (e: Error) => {
      assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${e.name}: ${e.message}`);
      assert.match(e.message, /^bad\.png: invalid PNG: /);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('PNG', () => {
  it('uses the standard CRC-32', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('IEND')), 0xae426082);
    // The fallback for Node < 20.15 agrees, also when continuing a running CRC.
    const data = noise(10_000, 5);
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Table(data), crc32(data));
    assert.equal(crc32Table(data.subarray(5000), crc32Table(data.subarray(0, 5000))), crc32(data));
  });

  it('round-trips every channel count and writes a standard header', () => {
    for (const channels of [1, 2, 3, 4] as const) {
      for (const [width, height] of [
        [1, 1],
        [7, 5],
        [33, 17],
      ]) {
        const image: Image = {
          width,
          height,
          channels,
          data: noise(width * height * channels, width * 31 + channels),
        };
        const encoded = encodePNG(image);
        assert.deepEqual(encoded.subarray(0, 8), SIGNATURE);
        assert.deepEqual(encoded.subarray(8, 33), ihdr(width, height, { 1: 0, 2: 4, 3: 2, 4: 6 }[channels]));
        assert.deepEqual(encoded.subarray(encoded.length - 12), IEND);
        assert.deepEqual(decodePNG(encoded), image);
      }
    }
  });

  it("round-trips the pipeline fixture's uint8 image (numpy_to_pil output)", async () => {
    const { tensors } = await loadSafetensors(PIPELINE);
    const img = tensors.get('images_pil_uint8');
    assert.ok(img && img.dtype === 'uint8');
    const [, height, width, channels] = img.dims; // (B, H, W, C)
    const data = (img.data as Uint8Array).subarray(0, height * width * channels);
    const decoded = decodePNG(encodePNG({ width, height, channels: channels as 3, data }));
    assert.deepEqual([decoded.width, decoded.height, decoded.channels], [width, height, 3]);
    assert.deepEqual(decoded.data, Uint8Array.from(data));
  });

  it('decodes all five filter types, split IDATs and skipped ancillary chunks', () => {
    for (const [colorType, bpp] of [
      [0, 1],
      [4, 2],
      [2, 3],
      [6, 4],
    ]) {
      const width = 9;
      const height = 10;
      const pixels = noise(width * height * bpp, 7 + bpp);
      const z = deflateSync(filterRows(pixels, width, height, bpp, (y) => y % 5));
      const third = Math.floor(z.length / 3);
      const file = png(
        ihdr(width, height, colorType),
        chunk('tEXt', Buffer.from('Comment\0made by the test')),
        chunk('IDAT', z.subarray(0, third)),
        chunk('IDAT', z.subarray(third, 2 * third)),
        chunk('IDAT', z.subarray(2 * third)),
        IEND,
      );
      assert.deepEqual(
        decodePNG(file),
        { width, height, channels: bpp, data: pixels },
        `colour type ${colorType}`,
      );
    }
  });

  it('expands palette images to RGB, or RGBA with tRNS', () => {
    const palette = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255]);
    const indices = Uint8Array.from([0, 1, 2, 2, 1, 0]); // 3×2
    const idat = chunk('IDAT', deflateSync(filterRows(indices, 3, 2, 1, (y) => y * 2)));
    const rgb = decodePNG(png(ihdr(3, 2, 3), chunk('PLTE', palette), idat, IEND));
    assert.equal(rgb.channels, 3);
    assert.deepEqual([...rgb.data], [255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 255, 0, 0]);
    const rgba = decodePNG(
      png(ihdr(3, 2, 3), chunk('PLTE', palette), chunk('tRNS', Uint8Array.from([0, 128])), idat, IEND),
    );
    assert.equal(rgba.channels, 4);
    assert.deepEqual([...rgba.data.subarray(0, 12)], [255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255]);
    const twoColours = palette.subarray(0, 6);
    rejects(
      png(ihdr(3, 2, 3), chunk('PLTE', twoColours), idat, IEND),
      /pixel 2 uses palette index 2, the palette has 2 entries/,
    );
    rejects(png(ihdr(3, 2, 3), idat, IEND), /palette image without PLTE/);
    rejects(png(ihdr(3, 2, 3), chunk('PLTE', palette.subarray(0, 4)), idat, IEND), /PLTE has 4 bytes/);
  });

  it('rejects corrupt, truncated and unsupported files with the file name', () => {
    const good = encodePNG({ width: 4, height: 3, channels: 3, data: noise(36, 1) });
    for (let cut = 0; cut < good.length; cut++) rejects(good.subarray(0, cut), /./);
    for (let i = 8; i < good.length; i++) {
      const flipped = good.slice();
      flipped[i] ^= 0x10;
      rejects(flipped, /bad CRC|runs past the end|bad chunk type|truncated|IHDR|invalid size/);
    }
    rejects(new Uint8Array(0), /missing PNG signature/);
    const idat = (raw: Uint8Array) => chunk('IDAT', deflateSync(raw));
    const row = (f: number, n: number) => Uint8Array.from([f, ...new Uint8Array(n)]);
    rejects(png(ihdr(2, 1, 2, 16), idat(row(0, 12)), IEND), /bit depth 16 is not supported/);
    rejects(png(ihdr(2, 1, 0, 4), idat(row(0, 1)), IEND), /bit depth 4 is not supported/);
    rejects(png(ihdr(2, 1, 2, 8, 1), idat(row(0, 6)), IEND), /interlaced \(Adam7\) images are not supported/);
    rejects(png(ihdr(2, 1, 5), idat(row(0, 6)), IEND), /invalid colour type 5/);
    rejects(png(ihdr(0, 1, 2), idat(row(0, 6)), IEND), /invalid size 0×1/);
    rejects(png(ihdr(100_000, 100_000, 6), idat(row(0, 6)), IEND), /100000×100000 image is too large/);
    rejects(png(ihdr(2, 1, 2), idat(row(5, 6)), IEND), /row 0 has unknown filter type 5/);
    rejects(png(ihdr(2, 1, 2), idat(row(0, 5)), IEND), /image data inflates to 6 bytes, 2×1 needs 7/);
    rejects(png(ihdr(2, 1, 2), idat(row(0, 7)), IEND), /image data does not inflate/);
    rejects(
      png(ihdr(2, 1, 2), chunk('IDAT', Uint8Array.from([1, 2, 3])), IEND),
      /image data does not inflate/,
    );
    rejects(png(ihdr(2, 1, 2), IEND), /no IDAT chunk/);
    rejects(png(ihdr(2, 1, 2), idat(row(0, 6))), /truncated \(no IEND\)/);
    rejects(png(idat(row(0, 6)), ihdr(2, 1, 2), IEND), /first chunk is IDAT, not IHDR/);
    rejects(png(ihdr(2, 1, 2), ihdr(2, 1, 2), idat(row(0, 6)), IEND), /more than one IHDR/);
    rejects(
      png(ihdr(2, 1, 2), chunk('ABCD', new Uint8Array(1)), idat(row(0, 6)), IEND),
      /unknown critical chunk ABCD/,
    );
    rejects(png(chunk('IHDR', new Uint8Array(12)), IEND), /IHDR has 12 bytes, not 13/);
  });

  it('rejects invalid encodePNG arguments', () => {
    assert.throws(() => encodePNG({ width: 0, height: 1, channels: 1, data: new Uint8Array(0) }), RangeError);
    assert.throws(
      () => encodePNG({ width: 1.5, height: 1, channels: 1, data: new Uint8Array(1) }),
      /invalid width 1.5/,
    );
    assert.throws(
      () => encodePNG({ width: 2, height: 2, channels: 5 as 4, data: new Uint8Array(20) }),
      /channels must be 1, 2, 3 or 4, got 5/,
    );
    assert.throws(
      () => encodePNG({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) }),
      /data has 11 bytes, 2×2×3 needs 12/,
    );
    assert.throws(
      () => encodePNG({ width: 1, height: 1, channels: 1, data: [0] as unknown as Uint8Array }),
      TypeError,
    );
  });

  it('encodes filter-0 rows that inflate back to the pixels', () => {
    const data = noise(5 * 2 * 3, 3);
    const encoded = encodePNG({ width: 5, height: 2, channels: 3, data });
    const idatLength = new DataView(encoded.buffer, encoded.byteOffset).getUint32(33);
    const raw = inflateSync(encoded.subarray(41, 41 + idatLength));
    assert.deepEqual([...raw], [0, ...data.subarray(0, 15), 0, ...data.subarray(15)]);
  });
});
