import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { openImageDataset } from '../../src/data/index.js';
import { ConfigError } from '../../src/errors.js';
import {
  at,
  fromPixels,
  noise,
  openWarned,
  type Pixels,
  pngBomb,
  px,
  rejectsFile,
  tempDir,
  writePng,
} from './helpers.js';

/** Opens `dir` at C x S x S and reads image `index`. */
async function readOne(
  dir: string,
  C: 1 | 3,
  H: number,
  W = H,
  index = 0,
  extra = {},
): Promise<Float32Array> {
  const ds = await openImageDataset(dir, { channels: C, height: H, width: W, ...extra });
  const out = new Float32Array(C * H * W);
  await ds.read(index, out);
  return out;
}

/** A folder holding one image file. */
function folderWith(name: string, bytes: Uint8Array | Buffer): string {
  const dir = tempDir();
  writeFileSync(join(dir, name), bytes);
  return dir;
}

/** sRGB encoding of a linear value, as 8 bits (libvips' greyscale is linear-light Rec. 709 luminance). */
const srgb8 = (v: number) => Math.round(255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055));

describe('image folders: decoding', () => {
  it('centre-crops without resampling when the short side already fits (grey PNG)', async () => {
    const p: Pixels = { data: noise(40 * 32, 1), width: 40, height: 32, channels: 1 };
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const out = await readOne(dir, 1, 32);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) assert.equal(at(out, 32, 32, 0, y, x), px(p, x + 4, y, 0));
  });

  it('rounds the crop offset half to even like torchvision (32x41 RGB: top = round(4.5) = 4)', async () => {
    const p: Pixels = { data: noise(32 * 41 * 3, 2), width: 32, height: 41, channels: 3 };
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const out = await readOne(dir, 3, 32);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) assert.equal(at(out, 32, 32, c, y, x), px(p, x, y + 4, c));
    }
  });

  it('drops alpha (RGBA PNG): colour kept even where fully transparent', async () => {
    const p: Pixels = { data: noise(16 * 16 * 4, 3), width: 16, height: 16, channels: 4 };
    for (let i = 0; i < 256; i += 2) p.data[i * 4 + 3] = 0;
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const out = await readOne(dir, 3, 16);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++) assert.equal(at(out, 16, 16, c, y, x), px(p, x, y, c));
    }
  });

  it('drops alpha before resampling: RGBA resized equals its RGB resized', async () => {
    const rgba: Pixels = { data: noise(50 * 40 * 4, 7), width: 50, height: 40, channels: 4 };
    const rgb: Pixels = { data: new Uint8Array(50 * 40 * 3), width: 50, height: 40, channels: 3 };
    for (let i = 0; i < 2000; i++) rgb.data.set(rgba.data.subarray(4 * i, 4 * i + 3), 3 * i);
    const a = tempDir();
    const b = tempDir();
    await writePng(join(a, 'x.png'), rgba);
    await writePng(join(b, 'x.png'), rgb);
    for (const S of [16, 64]) assert.deepEqual(await readOne(a, 3, S), await readOne(b, 3, S), `size ${S}`);
  });

  it('reads 16-bit PNGs as their top 8 bits (v·257 -> v)', async () => {
    const v = noise(8 * 8, 4);
    const wide = new Uint16Array(64).map((_, i) => v[i] * 257);
    const dir = tempDir();
    await sharp(wide, { raw: { width: 8, height: 8, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toFile(join(dir, 'a.png'));
    assert.equal((await sharp(join(dir, 'a.png')).metadata()).depth, 'ushort');
    const out = await readOne(dir, 1, 8);
    for (let i = 0; i < 64; i++) assert.equal(Math.round(out[i] * 255), v[i]);
  });

  it('reads palette PNG, GIF, lossless WebP and TIFF to their exact pixels', async () => {
    const colours = [
      [255, 0, 0],
      [0, 128, 255],
      [20, 200, 40],
      [250, 250, 250],
    ];
    const p: Pixels = { data: new Uint8Array(12 * 12 * 3), width: 12, height: 12, channels: 3 };
    for (let i = 0; i < 144; i++) p.data.set(colours[(i * 7 + (i >> 3)) % 4], i * 3);
    const dir = tempDir();
    await fromPixels(p).png({ palette: true, colours: 4, dither: 0 }).toFile(join(dir, 'a.png'));
    assert.equal((await sharp(join(dir, 'a.png')).metadata()).isPalette, true);
    await fromPixels(p).gif({ colours: 4, dither: 0 }).toFile(join(dir, 'b.gif'));
    await fromPixels(p).webp({ lossless: true }).toFile(join(dir, 'c.webp'));
    await fromPixels(p).tiff({ compression: 'lzw' }).toFile(join(dir, 'd.tiff'));
    const ds = await openImageDataset(dir, { channels: 3, height: 12, width: 12 });
    assert.equal(ds.length, 4);
    const out = new Float32Array(3 * 144);
    for (let i = 0; i < 4; i++) {
      await ds.read(i, out);
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 12; y++)
          for (let x = 0; x < 12; x++) assert.equal(at(out, 12, 12, c, y, x), px(p, x, y, c));
      }
    }
  });

  it('JPEG: the pipeline crops the decoded pixels exactly', async () => {
    const p: Pixels = { data: noise(48 * 40 * 3, 5), width: 48, height: 40, channels: 3 };
    const dir = tempDir();
    await fromPixels(p).jpeg({ quality: 90 }).toFile(join(dir, 'a.jpg'));
    const decoded = await sharp(join(dir, 'a.jpg')).raw().toBuffer();
    const out = await readOne(dir, 3, 40);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 40; y++) {
        for (let x = 0; x < 40; x++)
          assert.equal(at(out, 40, 40, c, y, x), decoded[(y * 48 + x + 4) * 3 + c]);
      }
    }
  });

  it('accepts a JPEG with a benign libjpeg warning (extraneous bytes before a marker)', async () => {
    const jpg = await fromPixels({
      data: new Uint8Array(16 * 16 * 3).fill(90),
      width: 16,
      height: 16,
      channels: 3,
    })
      .jpeg()
      .toBuffer();
    const sof = jpg.indexOf(Buffer.from([0xff, 0xc0])); // garbage between two header segments
    const warned = Buffer.concat([jpg.subarray(0, sof), Buffer.from([0, 0]), jpg.subarray(sof)]);
    await assert.rejects(sharp(warned, { failOn: 'warning' }).raw().toBuffer(), /extraneous bytes/);
    const out = await readOne(folderWith('w.jpg', warned), 3, 16);
    assert.equal(Math.round(out[0] * 255), (await sharp(jpg).raw().toBuffer())[0]);
  });

  it('converts to 1 channel as linear-light luminance and grey to 3 channels by copying', async () => {
    const colours = [
      [255, 0, 0, srgb8(0.2126)],
      [0, 255, 0, srgb8(0.7152)],
      [0, 0, 255, srgb8(0.0722)],
    ];
    const p: Pixels = { data: new Uint8Array(3 * 3), width: 3, height: 1, channels: 3 };
    colours.forEach(([r, g, b], i) => {
      p.data.set([r, g, b], 3 * i);
    });
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const grey = await readOne(dir, 1, 1, 3);
    assert.deepEqual(
      [...grey].map((v) => Math.round(v * 255)),
      colours.map((c) => c[3]),
    );
    // every grey level survives both conversions unchanged
    const levels: Pixels = {
      data: Uint8Array.from({ length: 256 }, (_, i) => i),
      width: 16,
      height: 16,
      channels: 1,
    };
    const d2 = tempDir();
    await writePng(join(d2, 'g.png'), levels);
    const rgb = await readOne(d2, 3, 16);
    const g1 = await readOne(d2, 1, 16);
    for (let i = 0; i < 256; i++) {
      for (let c = 0; c < 3; c++) assert.equal(Math.round(rgb[c * 256 + i] * 255), i);
      assert.equal(Math.round(g1[i] * 255), i);
    }
    const rgbGrey: Pixels = {
      data: new Uint8Array(768).map((_, k) => (k / 3) | 0),
      width: 16,
      height: 16,
      channels: 3,
    };
    await writePng(join(d2, 'g.png'), rgbGrey);
    const g3 = await readOne(d2, 1, 16);
    for (let i = 0; i < 256; i++) assert.equal(Math.round(g3[i] * 255), i);
  });

  it('downscales by 2 exactly on a linear ramp (64x48 -> 32x24 -> crop 24 at left 4)', async () => {
    const p: Pixels = { data: new Uint8Array(64 * 48), width: 64, height: 48, channels: 1 };
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) p.data[y * 64 + x] = 2 * x + 60;
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const out = await readOne(dir, 1, 24);
    // output column j samples source 2(j + 4) + 0.5, symmetric weights keep the ramp exact
    for (let y = 0; y < 24; y++)
      for (let j = 0; j < 24; j++) assert.equal(at(out, 24, 24, 0, y, j), 4 * j + 77);
  });

  it('upscales centre-aligned like PIL: output centre (j + 0.5)/s - 0.5, edges held', async () => {
    const p: Pixels = { data: new Uint8Array(10 * 10), width: 10, height: 10, channels: 1 };
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) p.data[y * 10 + x] = 20 * x + 10;
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const out = await readOne(dir, 1, 16);
    for (let j = 0; j < 16; j++) {
      const src = Math.min(9, Math.max(0, ((j + 0.5) * 10) / 16 - 0.5));
      for (let y = 0; y < 16; y++) assert.equal(at(out, 16, 16, 0, y, j), Math.round(20 * src + 10));
    }
  });

  it('applies EXIF orientation (a 40x32 JPEG tagged "rotate 90" is 32 wide)', async () => {
    const p: Pixels = { data: new Uint8Array(40 * 32 * 3).fill(200), width: 40, height: 32, channels: 3 };
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 8; x++) p.data.fill(0, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
    const dir = tempDir();
    await fromPixels(p).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(join(dir, 'a.jpg'));
    const out = await readOne(dir, 1, 40, 32); // H 40, W 32: the rotated image needs no resampling
    // rotate 90 clockwise: the dark left columns become the top rows
    assert.ok(at(out, 40, 32, 0, 2, 16) < 30 && at(out, 40, 32, 0, 37, 16) > 170);
  });

  it('pads small images centred with zeros in pad mode', async () => {
    const p: Pixels = { data: noise(28 * 28, 6), width: 28, height: 28, channels: 1 };
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), p);
    const out = await readOne(dir, 1, 32, 32, 0, { resize: 'pad' });
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        assert.equal(at(out, 32, 32, 0, y, x), inside ? px(p, x - 2, y - 2, 0) : 0);
      }
    }
    await rejectsFile(
      readOne(dir, 1, 24, 24, 0, { resize: 'pad' }),
      join(dir, 'a.png'),
      /larger than the model's 24x24/,
    );
  });
});

describe('image folders: layout', () => {
  it('is recursive and sorted, with ImageFolder labels from class subfolders', async () => {
    const dir = tempDir();
    const files = ['b/2.png', 'a/10.png', 'a/9.png', 'a/x/1.png'];
    for (const [i, f] of files.entries()) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      await writePng(join(dir, f), {
        data: new Uint8Array(4).fill(10 * (i + 1)),
        width: 2,
        height: 2,
        channels: 1,
      });
    }
    writeFileSync(join(dir, 'a', '.DS_Store'), 'junk');
    mkdirSync(join(dir, '.hidden'));
    await writePng(join(dir, '.hidden', 'h.png'), {
      data: new Uint8Array(4),
      width: 2,
      height: 2,
      channels: 1,
    });
    writeFileSync(join(dir, 'README.txt'), 'not an image');
    const warnings: string[] = [];
    const ds = await openImageDataset(dir, {
      channels: 1,
      height: 2,
      width: 2,
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(ds.length, 4);
    const out = new Float32Array(4);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      await ds.read(i, out);
      seen.push(Math.round(out[0] * 255));
    }
    assert.deepEqual(seen, [20, 30, 40, 10]); // a/10.png, a/9.png, a/x/1.png, b/2.png
    assert.deepEqual(ds.classes, ['a', 'b']);
    assert.deepEqual([...(ds.labels ?? [])], [0, 0, 0, 1]);
    assert.equal(ds.skipped, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /ignored 1 file without an image extension \(README\.txt\)/);
  });

  it('has no labels when images sit at the top level', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'c'));
    await writePng(join(dir, 'top.png'), { data: new Uint8Array(4), width: 2, height: 2, channels: 1 });
    await writePng(join(dir, 'c', 'in.png'), { data: new Uint8Array(4), width: 2, height: 2, channels: 1 });
    const ds = await openImageDataset(dir, { channels: 1, height: 2, width: 2 });
    assert.equal(ds.length, 2);
    assert.equal(ds.labels, undefined);
  });

  it('reads the same values decoded at open (cached) and on demand (cacheBytes 0)', async () => {
    const dir = tempDir();
    for (let i = 0; i < 5; i++) {
      await writePng(join(dir, `${i}.png`), {
        data: noise(30 * 20 * 3, 10 + i),
        width: 30,
        height: 20,
        channels: 3,
      });
    }
    const eager = await openImageDataset(dir, { channels: 3, height: 16, width: 16 });
    const lazy = await openImageDataset(dir, { channels: 3, height: 16, width: 16, cacheBytes: 0 });
    const a = new Float32Array(768);
    const b = new Float32Array(768);
    for (let i = 0; i < 5; i++) {
      await eager.read(i, a);
      await lazy.read(i, b);
      assert.deepEqual(a, b);
    }
  });
});

describe('image folders: refusals', () => {
  const tiny: Pixels = { data: new Uint8Array(16), width: 4, height: 4, channels: 1 };

  it('refuses an empty folder and a folder with no images', async () => {
    const empty = tempDir();
    mkdirSync(join(empty, 'sub'));
    await rejectsFile(
      openImageDataset(empty, { channels: 1, height: 4, width: 4 }),
      empty,
      /folder is empty/,
    );
    const text = folderWith('notes.txt', Buffer.from('hello'));
    await rejectsFile(
      openImageDataset(text, { channels: 1, height: 4, width: 4 }),
      text,
      /no images: 1 file \(notes\.txt\), none ending in \.png/,
    );
  });

  it('refuses a truncated PNG naming it, or skips and counts it', async () => {
    const dir = tempDir();
    for (const n of ['a', 'b', 'c']) {
      await writePng(join(dir, `${n}.png`), {
        data: noise(64 * 64, n.charCodeAt(0)),
        width: 64,
        height: 64,
        channels: 1,
      });
    }
    const bad = join(dir, 'b.png');
    const whole = readFileSync(bad);
    writeFileSync(bad, whole.subarray(0, whole.length >> 1));
    await rejectsFile(openImageDataset(dir, { channels: 1, height: 32, width: 32 }), bad, /unreadable image/);
    const skipping = { channels: 1, height: 32, width: 32, skipUnreadable: true };
    const { ds, warnings } = await openWarned(dir, skipping);
    assert.equal(ds.length, 2);
    assert.equal(ds.skipped, 1);
    assert.ok(warnings.some((w) => w.includes(bad)));
    assert.ok(warnings.some((w) => /skipped 1 unreadable image of 3/.test(w)));
    // decoded on demand, the header passes at open and the read names the file
    const lazy = await openImageDataset(dir, { channels: 1, height: 32, width: 32, cacheBytes: 0 });
    assert.equal(lazy.length, 3);
    await rejectsFile(lazy.read(1, new Float32Array(1024)), bad, /unreadable image/);
  });

  it('refuses a PNG decompression bomb from its header', async () => {
    const dir = folderWith('bomb.png', pngBomb(16384, 16384));
    await rejectsFile(
      openImageDataset(dir, { channels: 1, height: 32, width: 32 }),
      join(dir, 'bomb.png'),
      /declares 16384x16384 = 268435456 pixels, over the limit of 67108864/,
    );
  });

  it('refuses files whose bytes are not an image format we accept (text, SVG named .png)', async () => {
    const dir = folderWith('fake.png', Buffer.from('hello, not a png'));
    await rejectsFile(
      openImageDataset(dir, { channels: 1, height: 4, width: 4 }),
      join(dir, 'fake.png'),
      /not a PNG, JPEG/,
    );
    const svg = folderWith(
      'pic.png',
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>',
      ),
    );
    await rejectsFile(
      openImageDataset(svg, { channels: 1, height: 4, width: 4 }),
      join(svg, 'pic.png'),
      /not a PNG, JPEG/,
    );
  });

  it('refuses bad requests before reading files', async () => {
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), tiny);
    for (const bad of [
      { channels: 2 },
      { height: 0 },
      { width: 1.5 },
      { height: 5000 },
      { split: 'val' },
      { resize: 'crop' },
    ]) {
      await assert.rejects(
        openImageDataset(dir, { channels: 1, height: 4, width: 4, ...bad } as never),
        ConfigError,
        JSON.stringify(bad),
      );
    }
    await rejectsFile(
      openImageDataset(join(dir, 'nope'), { channels: 1, height: 4, width: 4 }),
      join(dir, 'nope'),
      /no such file/,
    );
    await rejectsFile(
      openImageDataset(join(dir, 'a.png'), { channels: 1, height: 4, width: 4 }),
      join(dir, 'a.png'),
      /one image, not a dataset/,
    );
  });

  it('stops opening when aborted', async () => {
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), tiny);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      openImageDataset(dir, { channels: 1, height: 4, width: 4, signal: controller.signal }),
      { name: 'AbortError' },
    );
  });

  it('checks read arguments', async () => {
    const dir = tempDir();
    await writePng(join(dir, 'a.png'), tiny);
    const ds = await openImageDataset(dir, { channels: 1, height: 4, width: 4 });
    await assert.rejects(ds.read(1, new Float32Array(16)), RangeError);
    await assert.rejects(ds.read(0, new Float32Array(15)), RangeError);
    await assert.rejects(ds.read(0, new Float32Array(16), 1), RangeError);
  });
});
