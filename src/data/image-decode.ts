/**
 * Decoding one image to the model's format with sharp (libvips): diffusers' train_unconditional
 * transform `Resize(shorter side, BILINEAR) + CenterCrop + convert("RGB"/"L")`, or zero-padding centred
 * for images no larger than the model. Output is (C, H, W) uint8.
 */
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { FileFormatError } from '../errors.js';
import { readInputFile } from '../io/read-file.js';
import { pngHeader } from './png-header.js';

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

/** An image file's bytes, read through the one input reader; `name` is for messages. */
export interface EncodedImage {
  readonly name: string;
  readonly bytes: Uint8Array;
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

/**
 * A sharp instance; `maxInputPixels` 0 lifts the pixel limit (for header reads only). `failOn: 'error'`
 * refuses corrupt and truncated files but not libpng/libjpeg warnings that real photos often carry
 * ("incorrect sRGB profile", "extraneous bytes before marker").
 */
function sharpInput(input: EncodedImage | RawImage, maxInputPixels: number): Sharp {
  const common = {
    limitInputPixels: maxInputPixels || false,
    failOn: 'error',
    sequentialRead: true,
  } as const;
  if ('bytes' in input) return sharp(input.bytes, { ...common, autoOrient: true, pages: 1 });
  return sharp(input.data, {
    ...common,
    raw: { width: input.width, height: input.height, channels: input.channels },
  });
}

/** Header facts of one image file, read without decoding its pixels. */
export interface ImageProbe extends SourceShape {
  readonly format: string;
}

/** What resizing needs to know of a source: its size after EXIF orientation, and whether it has alpha. */
export interface SourceShape {
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
}

/**
 * Reads an image header: a PNG's own chunks before its pixel data (fast: no libvips), any other format
 * through sharp's `metadata()`; checks the format by magic bytes, the pixel count and the resized size.
 */
export async function probeImage(image: EncodedImage, target: ImageTarget): Promise<ImageProbe> {
  const file = image.name;
  const format = sniffImageFormat(image.bytes.subarray(0, 16));
  if (!format) throw new FileFormatError(file, 'not a PNG, JPEG, WebP, GIF, TIFF or HEIF/AVIF image');
  let shape: SourceShape | undefined = format === 'png' ? pngHeader(image.bytes) : undefined;
  if (!shape) {
    let meta: Metadata;
    try {
      // metadata() reads the header only; the limit is checked below with the size in the message
      meta = await sharpInput(image, 0).metadata();
    } catch (e) {
      throw new FileFormatError(file, `unreadable image (${reason(e)})`);
    }
    shape = { ...orientedSize(meta), hasAlpha: meta.hasAlpha };
  }
  const { width, height } = shape;
  if (!(width > 0 && height > 0)) throw new FileFormatError(file, 'image header declares no size');
  checkSize(file, width, height, target);
  return { format, width, height, hasAlpha: shape.hasAlpha };
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
        'images are padded to the model size, not shrunk: use a model of at least that size',
    );
  }
  if (target.resize === 'resize') {
    // the short side becomes the model's: a 67,000,000x1 image would be resized to 2,144,000,000x32 first
    const g = resizeGeometry(width, height, target.width, target.height);
    if (g.width * g.height > target.maxInputPixels)
      throw new FileFormatError(
        file,
        `image is ${width}x${height}: resized for the model's ${target.width}x${target.height} it would be ` +
          `${g.width}x${g.height} = ${g.width * g.height} pixels, over the limit of ${target.maxInputPixels}`,
      );
  }
}

/** Python's round(): half to even, as torchvision's CenterCrop rounds its offsets. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's `Resize(size)` + `CenterCrop(size)` geometry (diffusers' train_unconditional) for a w x h
 * image: the short side becomes the model's, the long side `int(size * long / short)`; the crop starts at
 * `int(round((resized - size) / 2))`. A non-square model scales by the side that needs more.
 */
export function resizeGeometry(w: number, h: number, W: number, H: number) {
  let width = W;
  let height = H;
  if (W / w >= H / h) height = Math.max(H, Math.trunc((W * h) / w));
  else width = Math.max(W, Math.trunc((H * w) / h));
  return { width, height, left: roundHalfEven((width - W) / 2), top: roundHalfEven((height - H) / 2) };
}

async function readShape(img: Sharp): Promise<SourceShape> {
  const meta = await img.metadata();
  return { ...orientedSize(meta), hasAlpha: meta.hasAlpha };
}

/** Width and height after EXIF orientation. */
function orientedSize(meta: Pick<Metadata, 'width' | 'height'> & { autoOrient?: Metadata['autoOrient'] }) {
  return meta.autoOrient ?? { width: meta.width, height: meta.height };
}

/** Decoded pixels (interleaved) and the (W, H) window of them the model sees, or none for 'pad'. */
interface Decoded {
  data: Buffer;
  info: OutputInfo;
  window?: { left: number; top: number };
}

const rawOut = (img: Sharp) => img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
type RawOut = Awaited<ReturnType<typeof rawOut>>;

/** Above this many pixels (16 MP, 48 MB as RGB) a whole-image decode waits for any other one to finish. */
const BIG_IMAGE_PIXELS = 2 ** 24;
let bigQueue: Promise<unknown> = Promise.resolve();

/** Runs `job` after every big decode queued before it. */
function oneBigAtATime<T>(job: () => Promise<T>): Promise<T> {
  const run = bigQueue.then(job, job);
  bigQueue = run.catch(() => undefined);
  return run;
}

/**
 * The sharp pipelines. Downscaling is libvips' antialiased linear reduce (PIL's BILINEAR filter). Two
 * cases take two passes through raw pixels: an image with alpha (dropped before resampling, as PIL's
 * convert("RGB") is, rather than premultiplied by libvips), and upscaling, which libvips' reduce does not
 * centre-align: there a bilinear affine maps output centres to input centres ((j + 0.5) / s - 0.5, as
 * PIL) on an edge-extended copy, so the borders repeat the edge pixels.
 */
async function decodePixels(
  input: EncodedImage | RawImage,
  target: ImageTarget,
  shape?: SourceShape,
): Promise<Decoded> {
  const { channels: C, height: H, width: W } = target;
  const convert = (img: Sharp) => (C === 1 ? img.grayscale() : img.toColourspace('srgb')).removeAlpha();
  const img = sharpInput(input, target.maxInputPixels);
  if (target.resize === 'pad') return rawOut(convert(img));
  const meta = shape ?? ('bytes' in input ? await readShape(img) : { ...input, hasAlpha: false });
  checkSize('name' in input ? input.name : '(raw image)', meta.width, meta.height, target);
  const { width: w, height: h } = meta;
  const g = resizeGeometry(w, h, W, H);
  const up = g.width > w || g.height > h;
  const reduce = (i: Sharp) =>
    i
      .resize(g.width, g.height, { fit: 'fill', kernel: 'linear' })
      .extract({ left: g.left, top: g.top, width: W, height: H });
  if (!up && !meta.hasAlpha) return rawOut(reduce(convert(img)));
  const p = up ? 1 : 0;
  // the first pass holds the whole decoded image: large ones take turns so parallel reads stay small
  const first = await (w * h > BIG_IMAGE_PIXELS ? oneBigAtATime : (f: () => Promise<RawOut>) => f())(() =>
    rawOut(convert(img).extend({ top: p, bottom: p, left: p, right: p, extendWith: 'copy' })),
  );
  const { width, height, channels } = first.info;
  const second = sharp(first.data, { raw: { width, height, channels } });
  if (!up) return rawOut(reduce(convert(second)));
  const sx = g.width / w;
  const sy = g.height / h;
  const affine = second.affine([sx, 0, 0, sy], {
    idx: -p,
    idy: -p,
    odx: 0.5 * sx - 0.5,
    ody: 0.5 * sy - 0.5,
    interpolator: 'bilinear',
  });
  return { ...(await rawOut(convert(affine))), window: { left: g.left, top: g.top } };
}

/**
 * Decodes `input` to (C, H, W) uint8 at the target size (`shape`, from {@link probeImage}, spares a
 * second header read). 'resize': torchvision's Resize + CenterCrop
 * (see {@link resizeGeometry}) with bilinear resampling. 'pad': the image centred (left/top offset
 * floor(difference / 2), as torchvision's CenterCrop pads) on zeros. Channels: 1 = sharp's greyscale
 * (libvips luminance of linear sRGB), 3 = sRGB; alpha is dropped, as PIL's convert("RGB") does.
 */
export async function decodeImage(
  input: string | EncodedImage | RawImage,
  target: ImageTarget,
  shape?: SourceShape,
): Promise<Uint8Array> {
  const source =
    typeof input === 'string' ? { name: input, bytes: await readInputFile(input, 'image') } : input;
  const name = 'name' in source ? source.name : '(raw image)';
  const { channels: C, height: H, width: W } = target;
  let decoded: Decoded;
  try {
    decoded = await decodePixels(source, target, shape);
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(name, `unreadable image (${reason(e)})`);
  }
  const { data, info, window } = decoded;
  const { width: w, height: h, channels: c } = info;
  if (c !== 1 && c !== C) throw new FileFormatError(name, `decoded to ${c} channels, expected ${C}`);
  // the source rectangle (x0, y0, cw, ch) of the decode and where it lands (dx, dy) in the model's frame
  let [x0, y0, cw, ch, dx, dy] = [0, 0, w, h, 0, 0];
  if (window) [x0, y0, cw, ch] = [window.left, window.top, W, H];
  else if (target.resize === 'pad') {
    checkSize(name, w, h, target);
    [dx, dy] = [(W - w) >> 1, (H - h) >> 1];
  }
  if (
    x0 + cw > w ||
    y0 + ch > h ||
    dx + cw > W ||
    dy + ch > H ||
    (target.resize === 'resize' && (cw !== W || ch !== H))
  ) {
    throw new FileFormatError(name, `decoded to ${w}x${h}, which does not give the model's ${W}x${H}`);
  }
  // interleaved (h, w, c) -> planar (C, H, W); a 1-channel decode fills every channel
  const out = new Uint8Array(C * H * W);
  for (let k = 0; k < C; k++) {
    const band = c === 1 ? 0 : k;
    for (let y = 0; y < ch; y++) {
      const row = k * H * W + (dy + y) * W + dx;
      const src = ((y0 + y) * w + x0) * c + band;
      for (let x = 0; x < cw; x++) out[row + x] = data[src + x * c];
    }
  }
  return out;
}
