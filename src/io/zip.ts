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

function readDirectory(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const fail = (msg: string): never => {
    throw new FileFormatError(file, `invalid ZIP archive: ${msg}`);
  };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.byteLength;
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number, what: string): number => {
    const v = dv.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is too large`);
    return Number(v);
  };

  // End of central directory: the last 22 bytes plus a comment of up to 65535 bytes.
  if (len < EOCD_SIZE) fail(`file is ${len} bytes, too short for a ZIP archive (truncated?)`);
  let eocd = -1;
  for (let p = len - EOCD_SIZE; p >= Math.max(0, len - EOCD_SIZE - 0xffff); p--) {
    if (u32(p) === SIG_EOCD && p + EOCD_SIZE + u16(p + 20) === len) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail('end-of-central-directory record not found (truncated or not a ZIP file?)');
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail('multi-disk archives are not supported');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (u16(eocd + 8) !== count)
    fail(`entry counts disagree (${u16(eocd + 8)} on this disk, ${count} in total)`);
  let cdLimit = eocd; // the central directory must end before this offset

  const locator = eocd - ZIP64_LOCATOR_SIZE;
  if (locator >= 0 && u32(locator) === SIG_ZIP64_LOCATOR) {
    if (u32(locator + 4) !== 0 || u32(locator + 16) > 1) fail('multi-disk ZIP64 archives are not supported');
    const z = u64(locator + 8, 'ZIP64 end-of-central-directory offset');
    if (z + ZIP64_EOCD_SIZE > locator) fail(`ZIP64 end-of-central-directory offset ${z} is out of bounds`);
    if (u32(z) !== SIG_ZIP64_EOCD) fail(`no ZIP64 end-of-central-directory record at offset ${z}`);
    if (u32(z + 16) !== 0 || u32(z + 20) !== 0) fail('multi-disk archives are not supported');
    const count64 = u64(z + 32, 'ZIP64 entry count');
    if (u64(z + 24, 'ZIP64 entry count') !== count64) fail('ZIP64 entry counts disagree');
    const size64 = u64(z + 40, 'ZIP64 central directory size');
    const offset64 = u64(z + 48, 'ZIP64 central directory offset');
    // Fields not saturated in the classic record must agree with the ZIP64 record.
    if (
      (count !== 0xffff && count !== count64) ||
      (cdSize !== 0xffffffff && cdSize !== size64) ||
      (cdOffset !== 0xffffffff && cdOffset !== offset64)
    ) {
      fail('the ZIP64 and classic end-of-central-directory records disagree');
    }
    count = count64;
    cdSize = size64;
    cdOffset = offset64;
    cdLimit = z;
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail('ZIP64 end-of-central-directory locator missing');
  }
  if (cdOffset + cdSize > cdLimit)
    fail(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end (${cdLimit}; truncated?)`);
  if (count * CENTRAL_SIZE > cdSize)
    fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const decoder = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, ZipEntry>();
  const cdEnd = cdOffset + cdSize;
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdEnd) fail(`central directory entry ${i} runs past the directory's end`);
    if (u32(p) !== SIG_CENTRAL) fail(`bad signature for central directory entry ${i} at offset ${p}`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let compressedSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let diskStart = u16(p + 34);
    let headerOffset = u32(p + 42);
    const nameStart = p + CENTRAL_SIZE;
    const extraStart = nameStart + nameLen;
    const next = extraStart + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${i} runs past the directory's end`);
    let name = '';
    try {
      name = decoder.decode(bytes.subarray(nameStart, extraStart));
    } catch {
      fail(`central directory entry ${i} has a name that is not valid UTF-8`);
    }
    const what = `entry "${name}"`;
    if (flags & 0x41) fail(`${what} is encrypted`);
    if (method !== 0 && method !== 8) fail(`${what} uses unsupported compression method ${method}`);
    // ZIP64 extended information: 8-byte values for exactly the saturated fields, in this order.
    for (let e = extraStart; e < extraStart + extraLen; ) {
      if (e + 4 > extraStart + extraLen) fail(`${what} has a truncated extra field`);
      const id = u16(e);
      const n = u16(e + 2);
      const body = e + 4;
      if (body + n > extraStart + extraLen) fail(`${what} has an extra field running past its end`);
      if (id === 0x0001) {
        let q = body;
        const take = (what64: string): number => {
          if (q + 8 > body + n) fail(`${what} has a ZIP64 extra field too short for its ${what64}`);
          const v = u64(q, `${what} ${what64}`);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (headerOffset === 0xffffffff) headerOffset = take('header offset');
        if (diskStart === 0xffff) {
          if (q + 4 > body + n) fail(`${what} has a ZIP64 extra field too short for its disk number`);
          diskStart = u32(q);
        }
      }
      e = body + n;
    }
    if (diskStart !== 0) fail(`${what} is on disk ${diskStart}; multi-disk archives are not supported`);
    if (method === 0 && compressedSize !== size)
      fail(`stored ${what} has compressed size ${compressedSize} but size ${size}`);
    if (method === 8 && size > compressedSize * MAX_DEFLATE_RATIO + 64) {
      fail(`deflated ${what} claims ${size} bytes from ${compressedSize} (impossible ratio)`);
    }
    if (entries.has(name)) fail(`duplicate ${what}`);

    // Local header: must lie before the central directory and agree with it.
    if (headerOffset + LOCAL_SIZE > cdOffset)
      fail(`${what} local header offset ${headerOffset} is out of bounds`);
    if (u32(headerOffset) !== SIG_LOCAL) fail(`${what} has no local header at offset ${headerOffset}`);
    if (u16(headerOffset + 8) !== method)
      fail(`${what} local header disagrees with the directory on the compression method`);
    const localNameLen = u16(headerOffset + 26);
    const dataOffset = headerOffset + LOCAL_SIZE + localNameLen + u16(headerOffset + 28);
    const localName = bytes.subarray(headerOffset + LOCAL_SIZE, headerOffset + LOCAL_SIZE + localNameLen);
    if (localNameLen !== nameLen || !localName.every((b, k) => b === bytes[nameStart + k])) {
      fail(`${what} local header has a different name`);
    }
    if ((flags & 0x08) === 0) {
      // Without a data descriptor the local header repeats CRC and sizes (0xffffffff = in its ZIP64 extra).
      const lc = u32(headerOffset + 14);
      const ls = u32(headerOffset + 18);
      const lu = u32(headerOffset + 22);
      if (lc !== crc || (ls !== 0xffffffff && ls !== compressedSize) || (lu !== 0xffffffff && lu !== size)) {
        fail(`${what} local header disagrees with the directory on CRC or sizes`);
      }
    }
    if (dataOffset + compressedSize > cdOffset) {
      fail(
        `${what} data [${dataOffset}, ${dataOffset + compressedSize}) runs past the central directory at ${cdOffset} (truncated?)`,
      );
    }
    entries.set(name, {
      name,
      method: method as 0 | 8,
      compressedSize,
      size,
      crc32: crc,
      headerOffset,
      dataOffset,
    });
    p = next;
  }

  // Entries must not overlap (overlapping entries are how ZIP bombs multiply their output).
  const spans = [...entries.values()].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    if (spans[i].headerOffset < prev.dataOffset + prev.compressedSize)
      fail(`entries "${prev.name}" and "${spans[i].name}" overlap`);
  }
  return entries;
}
