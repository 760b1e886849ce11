/** CRC-32 (ISO-HDLC, as used by ZIP and PNG): node's native one where present (Node ≥ 20.15), else a table. */
import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

function lookupTable(): Uint32Array {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  return table;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes`, continuing from `crc` (0 to start). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(bytes, crc) >>> 0 : crc32Table(bytes, crc);
}

/** The table-driven CRC-32 used where node has no native one (exported for tests). */
export function crc32Table(bytes: Uint8Array, crc = 0): number {
  const t = lookupTable();
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
