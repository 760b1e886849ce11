/**
 * safetensors reader/writer. Files are untrusted: the header is validated (JSON shape, dtypes,
 * offsets in bounds, contiguous and non-overlapping, byte length = numel × dtype size) before any
 * tensor is materialised. Tensors are views into the file buffer where alignment allows.
 */
import { FileFormatError } from '../errors.js';
import { ARRAY_TYPES, type DataTypeMap, DTYPE_SIZE, type DType, numelOf, Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';
import { readInputFile } from './read-file.js';

const ST_TO_DTYPE: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I32: 'int32',
  I64: 'int64',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_ST: Record<DType, string> = Object.fromEntries(
  Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k]),
) as Record<DType, string>;

/** Largest header we accept (the format's own reference limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Views `bytes[offset, offset + n*size)` as the dtype's typed array, copying only if misaligned. */
export function viewAs<D extends DType>(
  bytes: Uint8Array,
  offset: number,
  numel: number,
  dtype: D,
): DataTypeMap[D] {
  const size = DTYPE_SIZE[dtype];
  const abs = bytes.byteOffset + offset;
  const Ctor = ARRAY_TYPES[dtype] as unknown as {
    new (b: ArrayBufferLike, o: number, n: number): DataTypeMap[D];
  };
  if (abs % size === 0) return new Ctor(bytes.buffer, abs, numel);
  // A fresh buffer: Buffer#slice would return a view of the (pooled) original, not a copy.
  const copy = new Uint8Array(numel * size);
  copy.set(bytes.subarray(offset, offset + numel * size));
  return new Ctor(copy.buffer, 0, numel);
}

/**
 * Parses a safetensors buffer. `file` names the source in error messages. One body on purpose: the header's
 * every field is checked in the order the format defines it, before any tensor is viewed.
 */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsFile {
  const fail: (msg: string) => never = (msg) => {
    throw new FileFormatError(file, `invalid safetensors file: ${msg}`);
  };
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = dv.getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES))
    fail(`header length ${headerLen64} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerLen = Number(headerLen64);
  if (8 + headerLen > bytes.byteLength) {
    fail(`header length ${headerLen} runs past the end of the file (${bytes.byteLength} bytes; truncated?)`);
  }
  // As the reference reader: the header is a JSON object, so it must start with '{'.
  if (headerLen === 0 || bytes[8] !== 0x7b) fail(`header does not start with '{' (not a safetensors file?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const data = bytes.subarray(dataStart);
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info))
        fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    if (typeof info !== 'object' || info === null) fail(`entry "${name}" is not an object`);
    const { dtype, shape, data_offsets } = info as { dtype: unknown; shape: unknown; data_offsets: unknown };
    if (typeof dtype !== 'string' || !Object.hasOwn(ST_TO_DTYPE, dtype))
      fail(`tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(data_offsets) ||
      data_offsets.length !== 2 ||
      !data_offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      data_offsets[0] > data_offsets[1]
    ) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(data_offsets)}`);
    }
    const [begin, end] = data_offsets as [number, number];
    if (end > dataLen)
      fail(
        `tensor "${name}" data [${begin}, ${end}) runs past the end of the data (${dataLen} bytes; truncated?)`,
      );
    const dt = ST_TO_DTYPE[dtype];
    const dims: number[] = shape;
    const numel = numelOf(dims);
    if (!Number.isSafeInteger(numel * DTYPE_SIZE[dt]))
      fail(`tensor "${name}" has a shape too large to address [${dims.join(', ')}]`);
    if (numel * DTYPE_SIZE[dt] !== end - begin) {
      fail(
        `tensor "${name}" of dtype ${dtype} and shape [${dims.join(', ')}] needs ${numel * DTYPE_SIZE[dt]} bytes, offsets give ${end - begin}`,
      );
    }
    spans.push([begin, end, name]);
    tensors.set(name, new Tensor(dt, viewAs(data, begin, numel, dt), dims));
  }
  // As the reference reader: the tensors tile the data exactly, with no overlaps, gaps or trailing bytes.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let covered = 0;
  for (let i = 0; i < spans.length; i++) {
    const [begin, end, name] = spans[i];
    if (begin < covered) fail(`tensors "${spans[i - 1][2]}" and "${name}" overlap`);
    if (begin > covered)
      fail(`${begin - covered} unused bytes before tensor "${name}" (data offsets must be contiguous)`);
    covered = end;
  }
  if (covered !== dataLen)
    fail(`${dataLen - covered} bytes after the last tensor (data offsets must cover the data exactly)`);
  return { tensors, metadata };
}

/** Reads and parses a .safetensors file. */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readInputFile(path), path);
}

/** Serialises tensors (sorted by name, 8-byte padded header, as the reference writer does). */
export function serializeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const n = t.data.byteLength;
    header[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: [...t.dims], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = Buffer.from(json, 'utf-8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Writes a .safetensors file atomically. */
export async function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
