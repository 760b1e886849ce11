/**
 * Test helpers that write ZIP archives, pickles and torch.save-style checkpoints byte by byte, so tests can build
 * well-formed, corrupt and hostile files without Python.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import { crc32 } from '../../src/io/crc32.js';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'scoresde-io-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ZIP

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** 0 = stored (default), 8 = deflated. */
  method?: 0 | 8;
  /** A ready deflate stream (method 8) that inflates to `size` bytes with CRC `crc`; `data` is then ignored. */
  deflated?: { body: Uint8Array; size: number; crc: number };
}

export interface ZipOptions {
  /** Write ZIP64 end records (as torch does). */
  zip64?: boolean;
  /** Put sizes/offsets in ZIP64 extra fields with 0xffffffff in the central directory. */
  zip64Extra?: boolean;
  /** Set the data-descriptor flag and zero the local CRC/sizes (as torch does). */
  dataDescriptor?: boolean;
  /** Deflate every entry that does not say otherwise. */
  deflate?: boolean;
  /** Pad so each stored entry's data starts at a multiple of this (torch uses 64). */
  align?: number;
}

/** Writes a ZIP archive. */
export function buildZip(inputs: ZipInput[], options: ZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    offset += b.length;
  };
  const central: Uint8Array[] = [];
  const flags = 0x0800 | (options.dataDescriptor ? 0x08 : 0);
  for (const input of inputs) {
    const method = input.deflated ? 8 : (input.method ?? (options.deflate ? 8 : 0));
    const body = input.deflated?.body ?? (method === 8 ? deflateRawSync(input.data) : input.data);
    const size = input.deflated?.size ?? input.data.length;
    const name = Buffer.from(input.name, 'utf-8');
    const crc = input.deflated?.crc ?? crc32(input.data);
    const headerOffset = offset;
    // torch pads each entry's local extra field so that its data is 64-byte aligned.
    const pad = options.align
      ? (options.align - ((offset + 30 + name.length + 4) % options.align)) % options.align
      : 0;
    const extra = new Uint8Array(options.align ? pad + 4 : 0);
    if (options.align) {
      const xv = new DataView(extra.buffer);
      xv.setUint16(0, 0x4650, true);
      xv.setUint16(2, pad, true);
    }
    const local = new Uint8Array(30);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 45, true);
    lv.setUint16(6, flags, true);
    lv.setUint16(8, method, true);
    if (!options.dataDescriptor) {
      lv.setUint32(14, crc, true);
      lv.setUint32(18, body.length, true);
      lv.setUint32(22, size, true);
    }
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extra.length, true);
    push(local);
    push(name);
    push(extra);
    push(body);
    if (options.dataDescriptor) {
      const dd = new Uint8Array(16);
      const dv = new DataView(dd.buffer);
      dv.setUint32(0, 0x08074b50, true);
      dv.setUint32(4, crc, true);
      dv.setUint32(8, body.length, true);
      dv.setUint32(12, size, true);
      push(dd);
    }
    const cextra = new Uint8Array(options.zip64Extra ? 28 : 0);
    if (options.zip64Extra) {
      const ev = new DataView(cextra.buffer);
      ev.setUint16(0, 1, true);
      ev.setUint16(2, 24, true);
      ev.setBigUint64(4, BigInt(size), true);
      ev.setBigUint64(12, BigInt(body.length), true);
      ev.setBigUint64(20, BigInt(headerOffset), true);
    }
    const c = new Uint8Array(46 + name.length + cextra.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(8, flags, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    const sat = options.zip64Extra ? 0xffffffff : undefined;
    cv.setUint32(20, sat ?? body.length, true);
    cv.setUint32(24, sat ?? size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, cextra.length, true);
    cv.setUint32(42, sat ?? headerOffset, true);
    c.set(name, 46);
    c.set(cextra, 46 + name.length);
    central.push(c);
  }
  const cdOffset = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdOffset;
  if (options.zip64) {
    const z = offset;
    const rec = new Uint8Array(56);
    const rv = new DataView(rec.buffer);
    rv.setUint32(0, 0x06064b50, true);
    rv.setBigUint64(4, 44n, true);
    rv.setUint16(12, 45, true);
    rv.setUint16(14, 45, true);
    rv.setBigUint64(24, BigInt(inputs.length), true);
    rv.setBigUint64(32, BigInt(inputs.length), true);
    rv.setBigUint64(40, BigInt(cdSize), true);
    rv.setBigUint64(48, BigInt(cdOffset), true);
    push(rec);
    const loc = new Uint8Array(20);
    const lv = new DataView(loc.buffer);
    lv.setUint32(0, 0x07064b50, true);
    lv.setBigUint64(8, BigInt(z), true);
    lv.setUint32(16, 1, true);
    push(loc);
  }
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  const sat = options.zip64 ? { n: 0xffff, s: 0xffffffff } : undefined;
  ev.setUint16(8, sat?.n ?? inputs.length, true);
  ev.setUint16(10, sat?.n ?? inputs.length, true);
  ev.setUint32(12, sat?.s ?? cdSize, true);
  ev.setUint32(16, sat?.s ?? cdOffset, true);
  push(eocd);
  return new Uint8Array(Buffer.concat(parts)); // a plain copy: Buffer.slice would not copy
}

// ---------------------------------------------------------------------------------------------------------------
// Pickles

/** Emits pickle opcodes. */
export class PickleWriter {
  private readonly bytes: number[] = [];

  op(...codes: number[]): this {
    this.bytes.push(...codes);
    return this;
  }
  proto(): this {
    return this.op(0x80, 2);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf-8'));
  }
  stackGlobal(): this {
    return this.op(0x93);
  }
  mark(): this {
    return this.op(0x28);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf-8');
    return this.op(0x58, ...u32(b.length), ...b);
  }
  shortStr(s: string): this {
    const b = Buffer.from(s, 'utf-8');
    return this.op(0x8c, b.length, ...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    return this.op(0x4a, ...u32(n));
  }
  long1(n: bigint): this {
    const out: number[] = [];
    let v = n;
    while (v !== 0n && v !== -1n) {
      out.push(Number(v & 0xffn));
      v >>= 8n;
    }
    if (out.length === 0 || n >= 0n !== ((out[out.length - 1] & 0x80) === 0)) out.push(n < 0n ? 0xff : 0);
    return this.op(0x8a, out.length, ...out);
  }
  tuple(): this {
    return this.op(0x74);
  }
  tupleOf(n: 0 | 1 | 2 | 3): this {
    return this.op([0x29, 0x85, 0x86, 0x87][n]);
  }
  intTuple(values: number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  emptyList(): this {
    return this.op(0x5d);
  }
  reduce(): this {
    return this.op(0x52);
  }
  build(): this {
    return this.op(0x62);
  }
  persid(): this {
    return this.op(0x51);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  append(): this {
    return this.op(0x61);
  }
  newFalse(): this {
    return this.op(0x89);
  }
  none(): this {
    return this.op(0x4e);
  }
  put(i: number): this {
    return i < 256 ? this.op(0x71, i) : this.op(0x72, ...u32(i));
  }
  get(i: number): this {
    return i < 256 ? this.op(0x68, i) : this.op(0x6a, ...u32(i));
  }
  stop(): this {
    return this.op(0x2e);
  }
  build_(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

export interface TensorSpec {
  name: string;
  storageKey: string;
  /** torch storage class, e.g. "FloatStorage". */
  storageClass: string;
  storageNumel: number;
  offset: number;
  size: number[];
  stride: number[];
  /** Wrap in torch._utils._rebuild_parameter. */
  parameter?: boolean;
}

/** A contiguous float32 tensor `name` of `numel` values, alone on storage '0'. */
export function floatTensorSpec(name = 'w', numel = 4): TensorSpec {
  return {
    name,
    storageKey: '0',
    storageClass: 'FloatStorage',
    storageNumel: numel,
    offset: 0,
    size: [numel],
    stride: [1],
  };
}

/** A pickle shaped like torch.save(state_dict) (protocol 2, OrderedDict of _rebuild_tensor_v2 calls). */
export function stateDictPickle(specs: TensorSpec[]): Uint8Array {
  const w = new PickleWriter().proto().global('collections', 'OrderedDict').put(0).tupleOf(0).reduce().put(1);
  w.mark();
  for (const s of specs) {
    w.str(s.name);
    if (s.parameter) w.global('torch._utils', '_rebuild_parameter').mark();
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.mark();
    w.mark()
      .str('storage')
      .global('torch', s.storageClass)
      .str(s.storageKey)
      .str('cpu')
      .int(s.storageNumel)
      .tuple()
      .persid();
    w.int(s.offset).intTuple(s.size).intTuple(s.stride).newFalse().get(0).tupleOf(0).reduce();
    w.tuple().reduce();
    if (s.parameter) w.newFalse().get(0).tupleOf(0).reduce().tuple().reduce();
  }
  w.setitems();
  // state_dict._metadata, set through BUILD as torch does.
  w.emptyDict()
    .str('_metadata')
    .get(0)
    .tupleOf(0)
    .reduce()
    .mark()
    .str('')
    .emptyDict()
    .str('version')
    .int(1)
    .setitem()
    .setitems()
    .setitem();
  w.build();
  return w.stop().build_();
}

/** A torch.save-style zip: `<prefix>/data.pkl`, `<prefix>/data/<key>`, `<prefix>/version`. */
export function torchZip(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array>,
  prefix = 'archive',
  options: ZipOptions = {},
): Uint8Array {
  const entries: ZipInput[] = [{ name: `${prefix}/data.pkl`, data: pickle }];
  for (const [key, data] of Object.entries(storages)) entries.push({ name: `${prefix}/data/${key}`, data });
  entries.push({ name: `${prefix}/version`, data: Buffer.from('3\n') });
  return buildZip(entries, { zip64: true, dataDescriptor: true, align: 64, ...options });
}

/**
 * A raw deflate stream of `n` zero bytes, ~1 KiB per MiB: one flushed block of 1 MiB of zeros repeated, then
 * the rest in stored blocks, the last one final. Builds GiB-sized bombs without allocating them.
 */
export function deflatedZeros(n: number): Uint8Array {
  const block = deflateRawSync(new Uint8Array(2 ** 20), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const full = Math.floor(n / 2 ** 20);
  const parts: Uint8Array[] = new Array(full).fill(block);
  let rest = n - full * 2 ** 20;
  do {
    const len = Math.min(rest, 0xffff);
    rest -= len;
    const stored = new Uint8Array(5 + len);
    stored.set([rest === 0 ? 1 : 0, len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff]);
    parts.push(stored);
  } while (rest > 0);
  return new Uint8Array(Buffer.concat(parts));
}

/** The bytes of a typed array. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
