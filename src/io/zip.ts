/**
 * A minimal, validating ZIP reader for untrusted archives (torch.save writes its checkpoints as ZIPs).
 * Reads the end-of-central-directory record (ZIP64 included, which torch always writes), the central directory
 * and each local header, and checks every offset and size against the file before touching data. Stored entries
 * come back as zero-copy views; deflated ones are inflated with a bounded output size. CRCs are verified.
 */
import { inflateRawSync } from 'node:zlib';
import { FileFormatError } from '../errors.js';
import { crc32 } from './crc32.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: 0 | 8;
  compressedSize: number;
  /** Uncompressed size. */
  size: number;
  crc32: number;
  /** Offset of the local file header. */
  headerOffset: number;
  /** Offset of the (possibly compressed) data. */
  dataOffset: number;
  /** General-purpose flags (bit 3: sizes in a data descriptor). */
  flags: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
/** Deflate cannot expand data by more than ~1032:1; a larger claimed ratio is a corrupt or hostile entry. */
const MAX_DEFLATE_RATIO = 1032;
/**
 * All deflated entries of one archive together may inflate to at most this many times the archive's size
 * (or MIN_INFLATE_BUDGET, whichever is larger). torch.save never compresses, and float weights barely compress,
 * so only a decompression bomb needs more.
 */
const INFLATE_BUDGET_RATIO = 4;
const MIN_INFLATE_BUDGET = 64 * 2 ** 20;

/** True if `bytes` starts like a ZIP archive (a local file header or an empty archive's EOCD). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const sig = (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

export interface ZipReadOptions {
  /** The size the caller needs (e.g. numel × dtype size of a storage); checked before anything is inflated. */
  expectedSize?: number;
}

export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  /** Bytes deflated entries may still inflate to. */
  private inflateBudget: number;

  private constructor(
    readonly file: string,
    private readonly bytes: Uint8Array,
    entries: Map<string, ZipEntry>,
  ) {
    this.entries = entries;
    this.inflateBudget = Math.max(MIN_INFLATE_BUDGET, INFLATE_BUDGET_RATIO * bytes.byteLength);
  }

  /** Parses and validates the archive's directory. `file` names the source in error messages. */
  static open(bytes: Uint8Array, file = '<buffer>'): ZipArchive {
    return new ZipArchive(file, bytes, readDirectory(bytes, file));
  }

  /**
   * An entry's uncompressed bytes (a view into the archive for stored entries), CRC-checked. Sizes are checked
   * before inflating: against `expectedSize`, and against the archive's total inflation budget.
   */
  read(name: string, options: ZipReadOptions = {}): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new FileFormatError(this.file, `ZIP archive has no entry "${name}"`);
    const { expectedSize } = options;
    if (expectedSize !== undefined && entry.size !== expectedSize) {
      throw new FileFormatError(
        this.file,
        `ZIP entry "${name}" holds ${entry.size} bytes, ${expectedSize} expected`,
      );
    }
    // Plain Uint8Array views (not Buffers), whatever the input was.
    const raw = new Uint8Array(
      this.bytes.buffer,
      this.bytes.byteOffset + entry.dataOffset,
      entry.compressedSize,
    );
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else {
      if (entry.size > this.inflateBudget) {
        throw new FileFormatError(
          this.file,
          `ZIP entry "${name}" is compressed and would inflate to ${entry.size} bytes, more than this ${this.bytes.byteLength}-byte archive can plausibly hold (torch.save never compresses; a decompression bomb?)`,
        );
      }
      this.inflateBudget -= entry.size;
      try {
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
        data = new Uint8Array(out.buffer, out.byteOffset, out.length);
      } catch (e) {
        throw new FileFormatError(
          this.file,
          `ZIP entry "${name}" does not inflate (${(e as Error).message})`,
        );
      }
      if (data.length !== entry.size) {
        throw new FileFormatError(
          this.file,
          `ZIP entry "${name}" inflates to ${data.length} bytes, the directory says ${entry.size}`,
        );
      }
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) {
      throw new FileFormatError(
        this.file,
        `ZIP entry "${name}" is corrupt (CRC-32 ${hex(crc)}, the directory says ${hex(entry.crc32)})`,
      );
    }
    return data;
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Little-endian field access with bounds-checked 64-bit values, and errors naming the file. */
class ZipReader {
  readonly dv: DataView;
  readonly len: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.len = bytes.byteLength;
  }

  // Annotated (not inferred) so that TypeScript narrows after `if (...) this.fail(...)`.
  readonly fail: (msg: string) => never = (msg) => {
    throw new FileFormatError(this.file, `invalid ZIP archive: ${msg}`);
  };

  u16(o: number): number {
    return this.dv.getUint16(o, true);
  }

  u32(o: number): number {
    return this.dv.getUint32(o, true);
  }

  u64(o: number, what: string): number {
    const v = this.dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`);
    return Number(v);
  }
}

/** Where the central directory lies, from the end records. */
interface DirectoryBounds {
  count: number;
  cdOffset: number;
  cdSize: number;
}

function readDirectory(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const r = new ZipReader(bytes, file);
  const { count, cdOffset, cdSize } = readEndRecords(r);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, ZipEntry>();
  const cdEnd = cdOffset + cdSize;
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    const { entry, next } = readCentralEntry(r, p, i, cdEnd, decoder);
    if (entries.has(entry.name)) r.fail(`duplicate entry "${entry.name}"`);
    entry.dataOffset = checkLocalHeader(r, entry, p, cdOffset);
    entries.set(entry.name, entry);
    p = next;
  }
  // Entries must not overlap (overlapping entries are how ZIP bombs multiply their output).
  const spans = [...entries.values()].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (spans[i].headerOffset < prev.dataOffset + prev.compressedSize)
      r.fail(`entries "${prev.name}" and "${spans[i].name}" overlap`);
  }
  return entries;
}

/** The end-of-central-directory record (last 22 bytes plus a comment) and, if present, its ZIP64 twin. */
function readEndRecords(r: ZipReader): DirectoryBounds {
  const { len } = r;
  if (len < EOCD_SIZE) r.fail(`file is ${len} bytes, too short for a ZIP archive (truncated?)`);
  let eocd = -1;
  for (let p = len - EOCD_SIZE; p >= Math.max(0, len - EOCD_SIZE - 0xffff); p--) {
    if (r.u32(p) === SIG_EOCD && p + EOCD_SIZE + r.u16(p + 20) === len) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) r.fail('end-of-central-directory record not found (truncated or not a ZIP file?)');
  if (r.u16(eocd + 4) !== 0 || r.u16(eocd + 6) !== 0) r.fail('multi-disk archives are not supported');
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);
  if (r.u16(eocd + 8) !== count)
    r.fail(`entry counts disagree (${r.u16(eocd + 8)} on this disk, ${count} in total)`);
  let cdLimit = eocd; // the central directory must end before this offset

  const locator = eocd - ZIP64_LOCATOR_SIZE;
  if (locator >= 0 && r.u32(locator) === SIG_ZIP64_LOCATOR) {
    if (r.u32(locator + 4) !== 0 || r.u32(locator + 16) > 1)
      r.fail('multi-disk ZIP64 archives are not supported');
    const z = r.u64(locator + 8, 'ZIP64 end-of-central-directory offset');
    if (z + ZIP64_EOCD_SIZE > locator) r.fail(`ZIP64 end-of-central-directory offset ${z} is out of bounds`);
    if (r.u32(z) !== SIG_ZIP64_EOCD) r.fail(`no ZIP64 end-of-central-directory record at offset ${z}`);
    if (r.u32(z + 16) !== 0 || r.u32(z + 20) !== 0) r.fail('multi-disk archives are not supported');
    const count64 = r.u64(z + 32, 'ZIP64 entry count');
    if (r.u64(z + 24, 'ZIP64 entry count') !== count64) r.fail('ZIP64 entry counts disagree');
    const size64 = r.u64(z + 40, 'ZIP64 central directory size');
    const offset64 = r.u64(z + 48, 'ZIP64 central directory offset');
    // Fields not saturated in the classic record must agree with the ZIP64 record.
    if (
      (count !== 0xffff && count !== count64) ||
      (cdSize !== 0xffffffff && cdSize !== size64) ||
      (cdOffset !== 0xffffffff && cdOffset !== offset64)
    ) {
      r.fail('the ZIP64 and classic end-of-central-directory records disagree');
    }
    count = count64;
    cdSize = size64;
    cdOffset = offset64;
    cdLimit = z;
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    r.fail('ZIP64 end-of-central-directory locator missing');
  }
  if (cdOffset + cdSize > cdLimit)
    r.fail(
      `central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end (${cdLimit}; truncated?)`,
    );
  if (count * CENTRAL_SIZE > cdSize)
    r.fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);
  return { count, cdOffset, cdSize };
}

/** Central directory entry `i` at offset `p`: its fields (ZIP64 extra applied) and the next entry's offset. */
function readCentralEntry(
  r: ZipReader,
  p: number,
  i: number,
  cdEnd: number,
  decoder: InstanceType<typeof TextDecoder>,
): { entry: ZipEntry; next: number } {
  if (p + CENTRAL_SIZE > cdEnd) r.fail(`central directory entry ${i} runs past the directory's end`);
  if (r.u32(p) !== SIG_CENTRAL) r.fail(`bad signature for central directory entry ${i} at offset ${p}`);
  const flags = r.u16(p + 8);
  const method = r.u16(p + 10);
  const nameLen = r.u16(p + 28);
  const extraLen = r.u16(p + 30);
  const nameStart = p + CENTRAL_SIZE;
  const extraStart = nameStart + nameLen;
  const next = extraStart + extraLen + r.u16(p + 32);
  if (next > cdEnd) r.fail(`central directory entry ${i} runs past the directory's end`);
  let name = '';
  try {
    name = decoder.decode(r.bytes.subarray(nameStart, extraStart));
  } catch {
    r.fail(`central directory entry ${i} has a name that is not valid UTF-8`);
  }
  const what = `entry "${name}"`;
  if (flags & 0x41) r.fail(`${what} is encrypted`);
  if (method !== 0 && method !== 8) r.fail(`${what} uses unsupported compression method ${method}`);
  const sizes = readZip64Extra(r, extraStart, extraLen, what, {
    size: r.u32(p + 24),
    compressedSize: r.u32(p + 20),
    headerOffset: r.u32(p + 42),
    diskStart: r.u16(p + 34),
  });
  const { size, compressedSize, headerOffset, diskStart } = sizes;
  if (diskStart !== 0) r.fail(`${what} is on disk ${diskStart}; multi-disk archives are not supported`);
  if (method === 0 && compressedSize !== size)
    r.fail(`stored ${what} has compressed size ${compressedSize} but size ${size}`);
  if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 64) {
    r.fail(`deflated ${what} claims ${size} bytes from ${compressedSize} (impossible ratio)`);
  }
  const entry: ZipEntry = {
    name,
    method,
    compressedSize,
    size,
    crc32: r.u32(p + 16),
    headerOffset,
    dataOffset: -1,
    flags,
  };
  return { entry, next };
}

interface EntrySizes {
  size: number;
  compressedSize: number;
  headerOffset: number;
  diskStart: number;
}

/** Applies the ZIP64 extended information field: 8-byte values for exactly the saturated fields, in this order. */
function readZip64Extra(
  r: ZipReader,
  start: number,
  length: number,
  what: string,
  v: EntrySizes,
): EntrySizes {
  const out = { ...v };
  const end = start + length;
  for (let e = start; e < end; ) {
    if (e + 4 > end) r.fail(`${what} has a truncated extra field`);
    const id = r.u16(e);
    const n = r.u16(e + 2);
    const body = e + 4;
    if (body + n > end) r.fail(`${what} has an extra field running past its end`);
    if (id === 0x0001) {
      let q = body;
      const take = (what64: string): number => {
        if (q + 8 > body + n) r.fail(`${what} has a ZIP64 extra field too short for its ${what64}`);
        const value = r.u64(q, `${what} ${what64}`);
        q += 8;
        return value;
      };
      if (out.size === 0xffffffff) out.size = take('size');
      if (out.compressedSize === 0xffffffff) out.compressedSize = take('compressed size');
      if (out.headerOffset === 0xffffffff) out.headerOffset = take('header offset');
      if (out.diskStart === 0xffff) {
        if (q + 4 > body + n) r.fail(`${what} has a ZIP64 extra field too short for its disk number`);
        out.diskStart = r.u32(q);
      }
    }
    e = body + n;
  }
  return out;
}

/** Checks the entry's local header against the directory; returns where its data starts. */
function checkLocalHeader(r: ZipReader, entry: ZipEntry, centralAt: number, cdOffset: number): number {
  const { bytes } = r;
  const { name, headerOffset, method, compressedSize, size, crc32: crc } = entry;
  const what = `entry "${name}"`;
  // Local header: must lie before the central directory and agree with it.
  if (headerOffset + LOCAL_SIZE > cdOffset)
    r.fail(`${what} local header offset ${headerOffset} is out of bounds`);
  if (r.u32(headerOffset) !== SIG_LOCAL) r.fail(`${what} has no local header at offset ${headerOffset}`);
  if (r.u16(headerOffset + 8) !== method)
    r.fail(`${what} local header disagrees with the directory on the compression method`);
  const nameLen = r.u16(centralAt + 28);
  const nameStart = centralAt + CENTRAL_SIZE;
  const localNameLen = r.u16(headerOffset + 26);
  const dataOffset = headerOffset + LOCAL_SIZE + localNameLen + r.u16(headerOffset + 28);
  const localName = bytes.subarray(headerOffset + LOCAL_SIZE, headerOffset + LOCAL_SIZE + localNameLen);
  if (localNameLen !== nameLen || !localName.every((b, k) => b === bytes[nameStart + k])) {
    r.fail(`${what} local header has a different name`);
  }
  if ((entry.flags & 0x08) === 0) {
    // Without a data descriptor the local header repeats CRC and sizes (0xffffffff = in its ZIP64 extra).
    const lc = r.u32(headerOffset + 14);
    const ls = r.u32(headerOffset + 18);
    const lu = r.u32(headerOffset + 22);
    if (lc !== crc || (ls !== 0xffffffff && ls !== compressedSize) || (lu !== 0xffffffff && lu !== size)) {
      r.fail(`${what} local header disagrees with the directory on CRC or sizes`);
    }
  }
  if (dataOffset + compressedSize > cdOffset) {
    r.fail(
      `${what} data [${dataOffset}, ${dataOffset + compressedSize}) runs past the central directory at ${cdOffset} (truncated?)`,
    );
  }
  return dataOffset;
}
