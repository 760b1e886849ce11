/**
 * Decoding one image to the model's format with sharp (libvips): diffusers' train_unconditional
 * transform `Resize(shorter side, BILINEAR) + CenterCrop + convert("RGB"/"L")`, or zero-padding centred
 * for images no larger than the model. Output is (C, H, W) uint8.
 */
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { FileFormatError } from '../errors.js';

/** How an image reaches the model size: scale the short side + centre-crop, or pad centred with 0. */
export type ResizeMode = 'resize' | 'pad';

export interface ImageTarget {
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
  readonly resize: ResizeMode;
  /** Largest width·height a source may declare; larger ones are refused from the header. */
  readonly maxInputPixels: number;
}

/** Raw single-image pixels (interleaved, uint8), e.g. one IDX image. */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
}

/** File name endings listed as images in a folder (lower case). sharp also reads SVG; we never give it SVG. */
export const IMAGE_EXTENSIONS: readonly string[] = [
  '.png',
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
];

/** Container formats accepted by magic bytes, so an SVG or libvips file renamed .png never reaches sharp. */
export function sniffImageFormat(head: Uint8Array): string | undefined {
  const at = (i: number, bytes: number[]) => bytes.every((b, k) => head[i + k] === b);
  if (at(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x47, 0x49, 0x46, 0x38])) return 'gif';
  if (at(0, [0x52, 0x49, 0x46, 0x46]) && at(8, [0x57, 0x45, 0x42, 0x50])) return 'webp';
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (at(4, [0x66, 0x74, 0x79, 0x70])) return 'heif'; // ISO-BMFF `ftyp` (AVIF, HEIC)
  return undefined;
}

/** sharp's message without its stack, for a one-line error. */
function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

function sharpInput(input: string | RawImage, maxInputPixels: number): Sharp {
  const common = { limitInputPixels: maxInputPixels, failOn: 'warning', sequentialRead: true } as const;
  if (typeof input === 'string') return sharp(input, { ...common, autoOrient: true, pages: 1 });
  return sharp(input.data, {
    ...common,
    raw: { width: input.width, height: input.height, channels: input.channels },
  });
}

/** Header facts of one image file, read without decoding its pixels. */
export interface ImageProbe {
  readonly format: string;
  /** Size after EXIF orientation. */
  readonly width: number;
  readonly height: number;
}

/** Reads an image header (sharp `metadata()`); checks the format by magic bytes and the pixel count. */
export async function probeImage(file: string, head: Uint8Array, target: ImageTarget): Promise<ImageProbe> {
  const format = sniffImageFormat(head);
  if (!format) throw new FileFormatError(file, 'not a PNG, JPEG, WebP, GIF, TIFF or HEIF/AVIF image');
  let meta: Metadata;
  try {
    meta = await sharpInput(file, target.maxInputPixels).metadata();
  } catch (e) {
    throw new FileFormatError(file, `unreadable image (${reason(e)})`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!(width > 0 && height > 0)) throw new FileFormatError(file, 'image header declares no size');
  checkSize(file, width, height, target);
  return { format, width, height };
}

function checkSize(file: string, width: number, height: number, target: ImageTarget): void {
  if (width * height > target.maxInputPixels) {
    throw new FileFormatError(
      file,
      `image declares ${width}x${height} = ${width * height} pixels, over the limit of ${target.maxInputPixels}`,
    );
  }
  if (target.resize === 'pad' && (width > target.width || height > target.height)) {
    throw new FileFormatError(
      file,
      `image is ${width}x${height}, larger than the model's ${target.width}x${target.height}; ` +
        `padding cannot shrink it (use resize: 'resize')`,
    );
  }
}

/**
 * Decodes `input` to (C, H, W) uint8 at the target size. 'resize': scale so the short side fits
 * (bilinear, antialiased), crop the centre. 'pad': place the image centred (left/top offset
 * floor(difference / 2), as torchvision's CenterCrop pads) on zeros. Channels: 1 = sharp's greyscale
 * (libvips luminance), 3 = sRGB; alpha is dropped, as PIL's convert("RGB") does.
 */
export async function decodeImage(input: string | RawImage, target: ImageTarget): Promise<Uint8Array> {
  const name = typeof input === 'string' ? input : '(raw image)';
  const { channels: C, height: H, width: W } = target;
  let data: Buffer;
  let info: OutputInfo;
  try {
    let img = sharpInput(input, target.maxInputPixels);
    if (target.resize === 'resize')
      img = img.resize(W, H, { fit: 'cover', position: 'centre', kernel: 'linear' });
    img = C === 1 ? img.grayscale() : img.toColourspace('srgb');
    ({ data, info } = await img.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new FileFormatError(name, `unreadable image (${reason(e)})`);
  }
  const { width: w, height: h, channels: c } = info;
  if (c !== 1 && c !== C) throw new FileFormatError(name, `decoded to ${c} channels, expected ${C}`);
  checkSize(name, w, h, target);
  if (target.resize === 'resize' && (w !== W || h !== H)) {
    throw new FileFormatError(name, `resized to ${w}x${h}, expected ${W}x${H}`);
  }
  // interleaved (h, w, c) -> planar (C, H, W), centred; a 1-channel decode fills every channel
  const out = new Uint8Array(C * H * W);
  const top = (H - h) >> 1;
  const left = (W - w) >> 1;
  for (let ch = 0; ch < C; ch++) {
    const src = c === 1 ? 0 : ch;
    for (let y = 0; y < h; y++) {
      const row = ch * H * W + (top + y) * W + left;
      for (let x = 0; x < w; x++) out[row + x] = data[(y * w + x) * c + src];
    }
  }
  return out;
}
