/**
 * MNIST-family IDX files (`*-images-idx3-ubyte`, `*-labels-idx1-ubyte`), raw or gzip-compressed, as
 * LeCun's MNIST, Fashion-MNIST and EMNIST ship them (torchvision's `read_sn3_pascalvincent_tensor`).
 * Untrusted input: the header is checked before anything is allocated, and a gzip stream is inflated
 * against the size its header declares, so a lying or bomb file fails fast with small memory.
 */
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { FileFormatError } from '../errors.js';
import { openRegularFile, type RegularFile, readAt } from '../io/read-file.js';

/** A decoded IDX array: unsigned bytes in row-major order. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Largest IDX payload we allocate (2 GiB: EMNIST ByClass is 0.55 GB). */
export const MAX_IDX_BYTES = 2 ** 31;

const UBYTE = 0x08;
const GZIP_MAGIC = [0x1f, 0x8b];

/** Checks the 4-byte IDX magic: two zero bytes, the element type, the number of dimensions. */
function checkMagic(file: string, head: Uint8Array, ndims: number): void {
  if (head.length < 4) throw new FileFormatError(file, 'not an IDX file (shorter than its 4-byte magic)');
  if (head[0] !== 0 || head[1] !== 0) throw new FileFormatError(file, 'not an IDX file (bad magic)');
  if (head[2] !== UBYTE) {
    throw new FileFormatError(
      file,
      `IDX element type 0x${head[2].toString(16)} is not supported (only 0x08 ubyte)`,
    );
  }
  if (head[3] !== ndims) {
    throw new FileFormatError(file, `IDX file has ${head[3]} dimensions, expected ${ndims}`);
  }
}

/** Parses and checks an IDX header; returns the dims and the payload byte count. */
function parseHeader(file: string, head: Uint8Array, ndims: number, maxBytes: number) {
  checkMagic(file, head, ndims);
  const headerBytes = 4 + 4 * ndims;
  if (head.length < headerBytes) throw new FileFormatError(file, 'truncated IDX header');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  let bytes = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    bytes *= d;
  }
  if (dims.some((d) => d === 0))
    throw new FileFormatError(file, `IDX dims [${dims.join(', ')}] hold no data`);
  if (bytes > maxBytes) {
    throw new FileFormatError(
      file,
      `IDX dims [${dims.join(', ')}] declare ${bytes} bytes, over the ${maxBytes}-byte limit`,
    );
  }
  return { dims, headerBytes, bytes };
}

/** Reads a raw IDX file: header first, then a size check against the file length, then the payload. */
async function readRaw(file: string, fh: RegularFile, ndims: number, maxBytes: number): Promise<IdxArray> {
  const head = new Uint8Array(4 + 4 * ndims);
  const headRead = await readAt(fh, file, head, 0);
  const { dims, headerBytes, bytes } = parseHeader(file, head.subarray(0, headRead), ndims, maxBytes);
  const { size } = fh;
  if (size !== headerBytes + bytes) {
    throw new FileFormatError(
      file,
      `IDX dims [${dims.join(', ')}] need ${headerBytes + bytes} bytes but the file has ${size}` +
        (size < headerBytes + bytes ? ' (truncated)' : ''),
    );
  }
  const data = new Uint8Array(bytes);
  if ((await readAt(fh, file, data, headerBytes)) !== bytes)
    throw new FileFormatError(file, 'file shrank while reading');
  return { dims, data };
}

/**
 * Inflates a gzip IDX file chunk by chunk; allocates once the header is known and stops at any excess. One
 * body: the streaming sink's header and data state, and the pipeline's error mapping, share its variables.
 */
async function readGzip(file: string, fh: RegularFile, ndims: number, maxBytes: number): Promise<IdxArray> {
  const headerLength = 4 + 4 * ndims;
  const head = new Uint8Array(headerLength);
  let headFill = 0;
  let parsed: { dims: number[]; bytes: number } | undefined;
  let data: Uint8Array | undefined;
  let at = 0;
  let refused: FileFormatError | undefined; // pipeline reports a sink's throw as an AbortError
  const sink = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      let c: Uint8Array = chunk;
      if (!parsed) {
        const take = Math.min(headerLength - headFill, c.length);
        head.set(c.subarray(0, take), headFill);
        headFill += take;
        c = c.subarray(take);
        if (headFill < headerLength) {
          if (headFill >= 4) checkMagic(file, head.subarray(0, headFill), ndims); // fail before reading more
          continue;
        }
        parsed = parseHeader(file, head, ndims, maxBytes);
        data = new Uint8Array(parsed.bytes);
      }
      if (!data) continue;
      if (at + c.length > data.length) {
        const dims = parsed.dims.join(', ');
        throw new FileFormatError(
          file,
          `decompressed data is longer than IDX dims [${dims}] declare (${data.length} bytes)`,
        );
      }
      data.set(c, at);
      at += c.length;
    }
  };
  try {
    await pipeline(
      fh.handle.createReadStream({ start: 0, autoClose: false }),
      createGunzip(),
      async (source: AsyncIterable<Buffer>) => {
        try {
          await sink(source);
        } catch (e) {
          if (e instanceof FileFormatError) refused = e;
          throw e;
        }
      },
    );
  } catch (e) {
    if (refused) throw refused;
    throw new FileFormatError(file, `corrupt gzip data (${(e as Error).message})`);
  }
  if (!parsed || !data) throw new FileFormatError(file, 'truncated IDX header');
  if (at !== data.length) {
    throw new FileFormatError(
      file,
      `IDX dims [${parsed.dims.join(', ')}] need ${data.length} bytes but the data has ${at} (truncated)`,
    );
  }
  return { dims: parsed.dims, data };
}

/**
 * Reads an IDX ubyte file with `ndims` dimensions (3 for images, 1 for labels), gzip or raw (told apart
 * by the gzip magic, not the name). Errors are `FileFormatError`s naming the file.
 */
export async function readIdx(file: string, ndims: number, maxBytes = MAX_IDX_BYTES): Promise<IdxArray> {
  const fh = await openRegularFile(file, 'idx');
  try {
    const magic = new Uint8Array(2);
    await readAt(fh, file, magic, 0);
    const gz = magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1];
    return await (gz ? readGzip(file, fh, ndims, maxBytes) : readRaw(file, fh, ndims, maxBytes));
  } finally {
    await fh.handle.close();
  }
}

/** The bytes of an IDX ubyte file: magic 0x00 0x00 0x08 ndims, big-endian uint32 dims, the data. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length)
    throw new RangeError(`encodeIdx: dims [${dims.join(', ')}] need ${n} bytes, got ${data.length}`);
  const bytes = new Uint8Array(4 + 4 * dims.length + n);
  const view = new DataView(bytes.buffer);
  view.setUint8(2, UBYTE);
  view.setUint8(3, dims.length);
  for (let i = 0; i < dims.length; i++) view.setUint32(4 + 4 * i, dims[i], false);
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}
