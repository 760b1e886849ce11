import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../src/errors.js';
import { loadSafetensors, parseSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { Tensor } from '../../src/tensor.js';
import { withTempDir } from './builders.js';

const CASE = fileURLToPath(
  new URL('../fixtures/models/tiny-ddpm/cases/b1_t10_int.safetensors', import.meta.url),
);

function rejects(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => parseSafetensors(bytes, 'bad.safetensors'),
    (e: Error) => {
      assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${e.name}: ${e.message}`);
      assert.match(e.message, /^bad\.safetensors: invalid safetensors file: /);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

/** A safetensors file from a header object and a data section, with the header padded like the reference writer. */
function file(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  let json = rawHeader ?? JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32 = (n: number) => ({ dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] });

describe('safetensors', () => {
  it('round-trips every dtype, bit for bit, through a file', async () => {
    const tensors = new Map<string, Tensor>([
      ['f32', new Tensor('float32', Float32Array.from([1.5, -0, Number.NaN]), [3])],
      ['f64', new Tensor('float64', Float64Array.from([0.1, 1e300]), [2, 1])],
      ['f16', new Tensor('float16', Uint16Array.from([0x3c00]), [1])],
      ['bf16', new Tensor('bfloat16', Uint16Array.from([0x3f80, 1]), [2])],
      ['i32', new Tensor('int32', Int32Array.from([-7]), [])],
      ['i64', new Tensor('int64', BigInt64Array.from([-(2n ** 62n)]), [1])],
      ['u8', new Tensor('uint8', Uint8Array.from([255, 0, 1]), [3])],
      ['bool', new Tensor('bool', Uint8Array.from([1, 0]), [2])],
      ['empty', new Tensor('float32', new Float32Array(0), [0, 5])],
    ]);
    await withTempDir(async (dir) => {
      const path = join(dir, 'all.safetensors');
      await saveSafetensors(path, tensors, { format: 'pt' });
      const back = await loadSafetensors(path);
      assert.deepEqual(back.metadata, { format: 'pt' });
      assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
      for (const [k, t] of tensors) {
        const b = back.tensors.get(k) as Tensor;
        assert.equal(b.dtype, t.dtype);
        assert.deepEqual(b.dims, t.dims);
        assert.deepEqual(
          Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        );
      }
    });
  });

  it('rejects the fixture truncated at many offsets, naming the file', async () => {
    const bytes = await readFile(CASE);
    for (let cut = 0; cut < bytes.length; cut += cut < 1000 ? 1 : 997) {
      assert.throws(
        () => parseSafetensors(bytes.subarray(0, cut), CASE),
        (e: Error) => e instanceof FileFormatError && e.message.startsWith(`${CASE}: `),
        `cut ${cut}`,
      );
    }
  });

  it('rejects bad header lengths and headers that are not JSON objects', () => {
    const good = file({ x: f32(1) }, new Uint8Array(4));
    const withLen = (n: bigint) => {
      const b = good.slice();
      new DataView(b.buffer).setBigUint64(0, n, true);
      return b;
    };
    rejects(withLen(2n ** 63n), /header length 9223372036854775808 exceeds 100000000 bytes/);
    rejects(withLen(BigInt(good.length)), /header length \d+ runs past the end of the file/);
    rejects(withLen(0n), /header does not start with '\{'/);
    rejects(new Uint8Array(7), /file is 7 bytes, too short/);
    rejects(file(null, new Uint8Array(0), '[1, 2]'), /header does not start with '\{'/);
    rejects(file(null, new Uint8Array(0), '{"x": '), /header is not valid UTF-8 JSON/);
    const badUtf8 = file(null, new Uint8Array(0), '{"x":1}');
    badUtf8[10] = 0xff;
    rejects(badUtf8, /header is not valid UTF-8 JSON/);
    rejects(file({ x: 3 }, new Uint8Array(0)), /entry "x" is not an object/);
    rejects(file({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__\.a is not a string/);
    rejects(file({ __metadata__: [] }, new Uint8Array(0)), /__metadata__ is not an object/);
  });

  it('rejects bad dtypes, shapes and offsets', () => {
    const data = new Uint8Array(16);
    rejects(file({ x: { ...f32(4), dtype: 'F8' } }, data), /tensor "x" has unsupported dtype "F8"/);
    rejects(file({ x: { ...f32(4), dtype: 'toString' } }, data), /unsupported dtype "toString"/);
    rejects(file({ x: { ...f32(4), shape: [-4] } }, data), /tensor "x" has an invalid shape \[-4\]/);
    rejects(file({ x: { ...f32(4), shape: [2.5] } }, data), /invalid shape/);
    rejects(file({ x: { ...f32(4), shape: 'big' } }, data), /invalid shape/);
    rejects(file({ x: { ...f32(4), data_offsets: [8, 4] } }, data), /invalid data_offsets \[8,4\]/);
    rejects(file({ x: { ...f32(4), data_offsets: [0] } }, data), /invalid data_offsets/);
    rejects(
      file({ x: { ...f32(4), data_offsets: [0, 2 ** 50] } }, data),
      /data \[0, 1125899906842624\) runs past the end of the data \(16 bytes; truncated\?\)/,
    );
    rejects(
      file({ x: { ...f32(4), shape: [5] } }, data),
      /tensor "x" of dtype F32 and shape \[5\] needs 20 bytes, offsets give 16/,
    );
    rejects(file({ x: { ...f32(4), dtype: 'F64' } }, data), /needs 32 bytes, offsets give 16/);
    rejects(
      file({ x: { ...f32(4), shape: [2 ** 40, 2 ** 40] } }, data),
      /tensor "x" has a shape too large to address/,
    );
  });

  it('rejects overlapping, gapped and trailing data', () => {
    const data = new Uint8Array(16);
    const at = (b: number, e: number) => ({ dtype: 'U8', shape: [e - b], data_offsets: [b, e] });
    rejects(file({ a: at(0, 10), b: at(6, 16) }, data), /tensors "a" and "b" overlap/);
    rejects(file({ a: at(0, 16), b: at(0, 16) }, data), /overlap/);
    rejects(file({ a: at(0, 6), b: at(8, 16) }, data), /2 unused bytes before tensor "b"/);
    rejects(file({ a: at(0, 8), b: at(8, 12) }, data), /4 bytes after the last tensor/);
    rejects(file({}, data), /16 bytes after the last tensor/);
    assert.equal(
      parseSafetensors(file({ b: at(8, 16), a: at(0, 8), z: at(8, 8) }, data), 'ok').tensors.size,
      3,
    );
  });

  it('random byte flips in the header give a FileFormatError or a valid parse', async () => {
    const bytes = await readFile(CASE);
    const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    let seed = 99;
    let rejected = 0;
    for (let trial = 0; trial < 500; trial++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const at = seed % headerEnd;
      const bit = 1 << (seed >>> 29);
      bytes[at] ^= bit;
      try {
        parseSafetensors(bytes, 'flip.safetensors');
      } catch (e) {
        assert.ok(
          e instanceof FileFormatError && e.message.startsWith('flip.safetensors: '),
          (e as Error).message,
        );
        rejected++;
      }
      bytes[at] ^= bit;
    }
    assert.ok(rejected > 250, `only ${rejected} of 500 flips were rejected`);
  });

  it('names the file when it cannot be read', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'nope.safetensors');
      await assert.rejects(loadSafetensors(path), /nope\.safetensors: no such file/);
      await writeFile(path, file({ x: f32(1) }, new Uint8Array(3)));
      await assert.rejects(
        loadSafetensors(path),
        (e: Error) => e instanceof FileFormatError && e.message.startsWith(path),
      );
    });
  });
});
