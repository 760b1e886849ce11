/**
 * Pipeline output conversions: NCHW sample → clamped NHWC array (diffusers' `output_type="np"`)
 * → 8-bit RGB images (diffusers' `numpy_to_pil`), plus image grids and PNG input for inpaint/colorize.
 */

import { writeFileAtomic } from '../io/atomic.js';
import { decodePNG, encodePNG, type Image, readInputFile } from '../io/index.js';
import { assertFloat32, Tensor } from '../tensor.js';

/**
 * An 8-bit image, rows top to bottom, pixels interleaved R, G, B (what PIL's `Image.fromarray` holds), or one
 * gray byte per pixel for 1-channel models (PIL mode "L").
 */
export class PipelineImage {
  constructor(
    readonly width: number,
    readonly height: number,
    /** width × height × channels bytes. */
    readonly data: Uint8Array,
    /** 3 (RGB, the default) or 1 (gray). */
    readonly channels: 1 | 3 = 3,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new RangeError(`PipelineImage: invalid size ${width}×${height}`);
    }
    if (channels !== 1 && channels !== 3) throw new RangeError(`PipelineImage: channels must be 1 or 3`);
    if (data.length !== width * height * channels) {
      const mode = channels === 3 ? 'RGB' : 'gray';
      throw new RangeError(
        `PipelineImage: ${width}×${height} ${mode} needs ${width * height * channels} bytes, got ${data.length}`,
      );
    }
  }

  /** The image as PNG file bytes (8-bit RGB or gray). */
  toPNG(): Uint8Array {
    return encodePNG({ width: this.width, height: this.height, channels: this.channels, data: this.data });
  }

  /** Writes a PNG atomically (a temp file renamed into place), so readers never see half a file. */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, this.toPNG());
  }
}

/**
 * Clamps to [0, 1] and moves channels last: (B, C, H, W) → (B, H, W, C), as diffusers'
 * `sample.clamp(0, 1).permute(0, 2, 3, 1)` (NaN stays NaN, as in torch).
 */
export function toClampedNHWC(sample: Tensor): Tensor<'float32'> {
  assertFloat32(sample, 'sample');
  if (sample.rank !== 4) throw new RangeError(`sample must be (B, C, H, W), got [${sample.dims.join(', ')}]`);
  const [b, c, h, w] = sample.dims;
  const src = sample.data;
  const out = new Float32Array(src.length);
  const plane = h * w;
  for (let n = 0; n < b; n++) {
    const base = n * c * plane;
    for (let ch = 0; ch < c; ch++) {
      const from = base + ch * plane;
      for (let p = 0; p < plane; p++) {
        out[base + p * c + ch] = Math.min(Math.max(src[from + p], 0), 1);
      }
    }
  }
  return new Tensor('float32', out, [b, h, w, c]);
}

/** numpy's round(): half to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * diffusers' `numpy_to_pil`: `(images * 255).round().astype("uint8")` per image of an (B, H, W, 3) array
 * (or (B, H, W, 1), which diffusers turns into mode "L" images).
 * The product is rounded to float32 first, as numpy computes it in float32.
 */
export function numpyToPil(images: Tensor): PipelineImage[] {
  assertFloat32(images, 'images');
  if (images.rank !== 4 || (images.dims[3] !== 3 && images.dims[3] !== 1)) {
    throw new RangeError(`images must be (B, H, W, 3) or (B, H, W, 1), got [${images.dims.join(', ')}]`);
  }
  const [b, h, w, c] = images.dims;
  const size = h * w * c;
  const out: PipelineImage[] = [];
  for (let n = 0; n < b; n++) {
    const bytes = new Uint8Array(size);
    const from = n * size;
    for (let i = 0; i < size; i++) {
      const v = roundHalfEven(Math.fround(images.data[from + i] * 255));
      // astype(uint8) of an in-range value; NaN (a diverged sample) becomes 0.
      bytes[i] = v >= 0 && v <= 255 ? v : v > 255 ? 255 : 0;
    }
    out.push(new PipelineImage(w, h, bytes, c as 1 | 3));
  }
  return out;
}

/** Tiles equal-size images row-major into one (diffusers.utils.make_image_grid); empty cells stay black. */
export function makeImageGrid(images: readonly PipelineImage[], rows: number, cols: number): PipelineImage {
  if (images.length === 0) throw new RangeError('makeImageGrid: no images');
  if (
    !Number.isInteger(rows) ||
    !Number.isInteger(cols) ||
    rows <= 0 ||
    cols <= 0 ||
    rows * cols < images.length
  ) {
    throw new RangeError(`makeImageGrid: a ${rows}×${cols} grid cannot hold ${images.length} images`);
  }
  const { width: w, height: h, channels: c } = images[0];
  if (images.some((im) => im.width !== w || im.height !== h || im.channels !== c)) {
    throw new RangeError('makeImageGrid: all images must have the same size and channels');
  }
  const gridW = cols * w;
  const data = new Uint8Array(gridW * rows * h * c);
  images.forEach((im, k) => {
    const x0 = (k % cols) * w;
    const y0 = Math.trunc(k / cols) * h;
    for (let y = 0; y < h; y++) {
      data.set(im.data.subarray(y * w * c, (y + 1) * w * c), ((y0 + y) * gridW + x0) * c);
    }
  });
  return new PipelineImage(gridW, rows * h, data, c);
}

/** A near-square grid shape for n images: cols = ⌈√n⌉, rows = ⌈n / cols⌉. */
export function gridShape(n: number): { rows: number; cols: number } {
  const cols = Math.ceil(Math.sqrt(n));
  return { rows: Math.ceil(n / cols), cols };
}

/** A decoded 8-bit image of any channel count as RGB: gray is repeated, alpha dropped. */
export function toRGBImage(image: Image | PipelineImage): PipelineImage {
  const { width, height, channels, data } = image;
  if (channels === 3) return image instanceof PipelineImage ? image : new PipelineImage(width, height, data);
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const from = p * channels;
    const gray = channels <= 2;
    out[p * 3] = data[from];
    out[p * 3 + 1] = gray ? data[from] : data[from + 1];
    out[p * 3 + 2] = gray ? data[from] : data[from + 2];
  }
  return new PipelineImage(width, height, out);
}

/** An RGB image as gray by the channel mean (a gray image is returned as is). */
export function toGrayImage(image: PipelineImage): PipelineImage {
  if (image.channels === 1) return image;
  const out = new Uint8Array(image.width * image.height);
  for (let p = 0; p < out.length; p++) {
    const d = image.data;
    out[p] = Math.round((d[3 * p] + d[3 * p + 1] + d[3 * p + 2]) / 3);
  }
  return new PipelineImage(image.width, image.height, out, 1);
}

/**
 * Reads a PNG file as an RGB image; errors name the file. With `size` (height, width), e.g. the model's, an
 * image of another size is refused from its header, before it is decoded.
 */
export async function loadImage(
  path: string,
  options: { size?: readonly [number, number] } = {},
): Promise<PipelineImage> {
  return toRGBImage(decodePNG(await readInputFile(path, 'png'), path, options));
}

/**
 * 8-bit images → float32 (B, C, H, W) in [0, 1], x / 255 as PIL → numpy → torch pipelines compute it.
 * C is the images' channel count (all must agree).
 */
export function imagesToTensor(images: readonly PipelineImage[]): Tensor<'float32'> {
  if (images.length === 0) throw new RangeError('imagesToTensor: no images');
  const { width: w, height: h, channels: ch } = images[0];
  if (images.some((im) => im.width !== w || im.height !== h || im.channels !== ch)) {
    throw new RangeError('imagesToTensor: all images must have the same size and channels');
  }
  const plane = w * h;
  const out = new Float32Array(images.length * ch * plane);
  images.forEach((im, n) => {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < ch; c++) out[(n * ch + c) * plane + p] = im.data[p * ch + c] / 255;
    }
  });
  return new Tensor('float32', out, [images.length, ch, h, w]);
}
