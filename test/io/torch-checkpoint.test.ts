import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../src/errors.js';
import { type PyList, parseTorchCheckpoint, unpickle } from '../../src/io/torch-pickle.js';
import { loadStateDict } from '../../src/io/weights.js';
import type { Tensor } from '../../src/tensor.js';
import {
  buildZip,
  bytesOf,
  PickleWriter,
  stateDictPickle,
  type TensorSpec,
  torchZip,
  withTempDir,
} from './builders.js';

const MODELS = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const MANIFEST = JSON.parse(await readFile(join(MODELS, 'manifest.json'), 'utf-8'));

function sameBytes(a: Tensor, b: Tensor): boolean {
  return Buffer.compare(Buffer.from(bytesOf(a.data)), Buffer.from(bytesOf(b.data))) === 0;
}

describe('torch .bin checkpoints from the fixtures', () => {
  for (const model of ['tiny-ddpm', 'tiny-ncsnpp']) {
    it(`${model}: .bin and .safetensors load to bit-identical tensors`, async () => {
      const bin = await loadStateDict(join(MODELS, model, 'diffusion_pytorch_model.bin'));
      const st = await loadStateDict(join(MODELS, model, 'diffusion_pytorch_model.safetensors'));
      assert.deepEqual([...bin.keys()].sort(), [...st.keys()].sort());
      for (const [key, t] of st) {
        const b = bin.get(key) as Tensor;
        assert.equal(b.dtype, t.dtype, key);
        assert.deepEqual(b.dims, t.dims, key);
        assert.ok(sameBytes(b, t), `${key}: data differs`);
      }
      // Parameter count as diffusers reports it (the shared time_proj pair counted once).
      let params = 0;
      for (const [key, t] of bin) if (key !== 'time_proj.W') params += t.numel;
      assert.equal(params, MANIFEST.checkpoint_summary[model].num_parameters);
    });
  }

  it('tiny-ncsnpp: time_proj.W and time_proj.weight share one storage', async () => {
    const bin = await loadStateDict(join(MODELS, 'tiny-ncsnpp', 'diffusion_pytorch_model.bin'));
    const w = bin.get('time_proj.W') as Tensor;
    const weight = bin.get('time_proj.weight') as Tensor;
    assert.equal(w.data.buffer, weight.data.buffer);
    assert.equal(w.data.byteOffset, weight.data.byteOffset);
    assert.deepEqual(w.dims, [32]);
    assert.ok(sameBytes(w, weight));
  });
});

/** Storage of `n` float32 values 0, 1, …, n-1. */
const iota = (n: number) => bytesOf(Float32Array.from({ length: n }, (_, i) => i));

function spec(name: string, over: Partial<TensorSpec>): TensorSpec {
  return {
    name,
    storageKey: '0',
    storageClass: 'FloatStorage',
    storageNumel: 6,
    offset: 0,
    size: [6],
    stride: [1],
    ...over,
  };
}

describe('torch checkpoints built in the test', () => {
  it('honours strides, storage offsets and shared storages', () => {
    const pickle = stateDictPickle([
      spec('contiguous', { size: [2, 3], stride: [3, 1] }),
      spec('transposed', { size: [3, 2], stride: [1, 3] }),
      spec('offset', { offset: 3, size: [2], stride: [1] }),
      spec('slice', { offset: 1, size: [2, 2], stride: [3, 1] }),
      spec('step', { offset: 1, size: [3], stride: [2] }),
      spec('permuted', { size: [3, 1, 2], stride: [1, 6, 3] }),
      spec('scalar', { offset: 5, size: [], stride: [] }),
      spec('empty', { size: [0, 4], stride: [4, 1] }),
      spec('broadcast', { size: [2, 1], stride: [0, 1], offset: 4 }),
      spec('param', { size: [6], stride: [1], parameter: true }),
    ]);
    const sd = parseTorchCheckpoint(torchZip(pickle, { '0': iota(6) }), 'built.bin');
    const values = (k: string) => [...(sd.get(k) as Tensor<'float32'>).data];
    assert.deepEqual(values('contiguous'), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(values('transposed'), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(sd.get('transposed')?.dims, [3, 2]);
    assert.deepEqual(values('offset'), [3, 4]);
    assert.deepEqual(values('slice'), [1, 2, 4, 5]);
    assert.deepEqual(values('step'), [1, 3, 5]);
    assert.deepEqual(values('permuted'), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(values('scalar'), [5]);
    assert.deepEqual(sd.get('scalar')?.dims, []);
    assert.deepEqual(sd.get('empty')?.dims, [0, 4]);
    assert.deepEqual(values('broadcast'), [4, 4]);
    assert.deepEqual(values('param'), [0, 1, 2, 3, 4, 5]);
    // Contiguous tensors are views of the same storage bytes, strided ones are copies.
    assert.equal(sd.get('contiguous')?.data.buffer, sd.get('offset')?.data.buffer);
    assert.notEqual(sd.get('contiguous')?.data.buffer, sd.get('transposed')?.data.buffer);
  });

  it('reads every supported storage dtype', () => {
    const storages: Record<string, Uint8Array> = {
      h: bytesOf(Uint16Array.from([0x3c00, 0xc000])), // float16 1, -2
      bf: bytesOf(Uint16Array.from([0x3f80, 0x4040])), // bfloat16 1, 3
      d: bytesOf(Float64Array.from([0.1, -2.5])),
      l: bytesOf(BigInt64Array.from([-(2n ** 40n), 7n])),
      i: bytesOf(Int32Array.from([-5, 9])),
      u: Uint8Array.from([200, 3]),
      b: Uint8Array.from([1, 0]),
    };
    const classes: Record<string, string> = {
      h: 'HalfStorage',
      bf: 'BFloat16Storage',
      d: 'DoubleStorage',
      l: 'LongStorage',
      i: 'IntStorage',
      u: 'ByteStorage',
      b: 'BoolStorage',
    };
    const pickle = stateDictPickle(
      Object.keys(storages).map((k) =>
        spec(k, { storageKey: k, storageClass: classes[k], storageNumel: 2, size: [2], stride: [1] }),
      ),
    );
    const sd = parseTorchCheckpoint(torchZip(pickle, storages), 'dtypes.bin');
    const expect: Record<string, [string, unknown[]]> = {
      h: ['float16', [0x3c00, 0xc000]],
      bf: ['bfloat16', [0x3f80, 0x4040]],
      d: ['float64', [0.1, -2.5]],
      l: ['int64', [-(2n ** 40n), 7n]],
      i: ['int32', [-5, 9]],
      u: ['uint8', [200, 3]],
      b: ['bool', [1, 0]],
    };
    for (const [k, [dtype, data]] of Object.entries(expect)) {
      const t = sd.get(k) as Tensor;
      assert.equal(t.dtype, dtype, k);
      assert.deepEqual([...(t.data as ArrayLike<unknown> & Iterable<unknown>)], data, k);
    }
  });

  it('accepts any archive prefix, deflated storages and ZIP64 extra fields', () => {
    const pickle = stateDictPickle([spec('x', { size: [2, 3], stride: [1, 2] })]);
    for (const [prefix, options] of [
      ['diffusion_pytorch_model', {}],
      ['archive', { zip64Extra: true, deflate: true }],
      ['a/b', { dataDescriptor: false, zip64: false }],
    ] as const) {
      const sd = parseTorchCheckpoint(torchZip(pickle, { '0': iota(6) }, prefix, options), 'prefix.bin');
      assert.deepEqual([...(sd.get('x') as Tensor<'float32'>).data], [0, 2, 4, 1, 3, 5]);
    }
  });

  it('loads a built checkpoint from disk through loadStateDict for .bin, .pt and .pth', async () => {
    const bytes = torchZip(stateDictPickle([spec('x', {})]), { '0': iota(6) });
    await withTempDir(async (dir) => {
      for (const ext of ['bin', 'pt', 'pth']) {
        const path = join(dir, `w.${ext}`);
        await writeFile(path, bytes);
        const sd = await loadStateDict(path);
        assert.deepEqual([...(sd.get('x') as Tensor<'float32'>).data], [0, 1, 2, 3, 4, 5]);
      }
      await writeFile(join(dir, 'w.ckpt'), bytes);
      await assert.rejects(
        loadStateDict(join(dir, 'w.ckpt')),
        (e: Error) =>
          e instanceof FileFormatError && /w\.ckpt.*unsupported weights file extension/.test(e.message),
      );
      await assert.rejects(
        loadStateDict(join(dir, 'missing.bin')),
        (e: Error) => e instanceof FileFormatError && /missing\.bin: no such file/.test(e.message),
      );
    });
  });
});

describe('invalid torch checkpoints', () => {
  const rejects = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => parseTorchCheckpoint(bytes, 'bad.bin'),
      (e: Error) => {
        assert.ok(e instanceof FileFormatError, `${e.name}: ${e.message}`);
        assert.match(e.message, /^bad\.bin/);
        assert.match(e.message, pattern);
        return true;
      },
    );
  const one = (over: Partial<TensorSpec>, storage: Uint8Array = iota(6)) =>
    torchZip(stateDictPickle([spec('w', over)]), { '0': storage });

  it('rejects tensors reaching past their storage', () => {
    rejects(one({ offset: 5, size: [2], stride: [1] }), /tensor "w".*reaches element 6, the storage has 6/);
    rejects(one({ size: [3, 2], stride: [1, 4] }), /reaches element 6/);
    rejects(one({ offset: 6, size: [], stride: [] }), /reaches element 6/);
  });

  it('rejects storages whose bytes disagree with their declared size', () => {
    rejects(one({}, iota(5)), /storage "0" has 20 bytes, 6 × float32 needs 24/);
    rejects(one({}, new Uint8Array(25)), /storage "0" has 25 bytes/);
  });

  it('rejects a missing storage, a dtype clash and an expanded view larger than its storage', () => {
    rejects(
      torchZip(stateDictPickle([spec('w', { storageKey: '7' })]), { '0': iota(6) }),
      /storage "7" of "w" is missing/,
    );
    const clash = stateDictPickle([
      spec('a', {}),
      spec('b', { storageClass: 'DoubleStorage', storageNumel: 3 }),
    ]);
    rejects(torchZip(clash, { '0': iota(6) }), /storage "0" is referenced with different dtypes or sizes/);
    rejects(one({ size: [1000, 1000], stride: [0, 0] }), /larger than its storage.*refusing to expand/);
    rejects(one({ size: [2, 3], stride: [3] }), /size has 2 dims but stride has 1/);
  });

  it('bounds the copies of strided views by the size of the file', () => {
    const views = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        spec(`t${i}`, { storageNumel: 1024, size: [32, 32], stride: [1, 32] }),
      );
    const storage = bytesOf(Float32Array.from({ length: 1024 }, (_, i) => i));
    const two = parseTorchCheckpoint(torchZip(stateDictPickle(views(2)), { '0': storage }), 'two.bin');
    assert.equal((two.get('t1') as Tensor<'float32'>).data[1], 32);
    rejects(
      torchZip(stateDictPickle(views(100)), { '0': storage }),
      /tensor "t\d+": copies of strided views would exceed 4× the size of the file/,
    );
  });

  it('rejects legacy and non-zip files with a clear message', () => {
    const legacy = Uint8Array.from([
      0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    ]);
    rejects(legacy, /legacy \(non-zip\) torch\.save format is not supported/);
    const tar = new Uint8Array(1024);
    tar.set(Buffer.from('ustar'), 257);
    rejects(tar, /legacy \(non-zip\)/);
    rejects(Buffer.from('{"not": "a zip"}'), /not a torch\.save checkpoint/);
  });

  it('rejects archives without exactly one data.pkl, or big-endian ones', () => {
    const pickle = stateDictPickle([spec('w', {})]);
    const storage = { name: 'a/data/0', data: iota(6) };
    rejects(buildZip([storage]), /torch checkpoint has no data\.pkl/);
    rejects(
      buildZip([{ name: 'a/data.pkl', data: pickle }, { name: 'b/data.pkl', data: pickle }, storage]),
      /has 2 data\.pkl entries/,
    );
    const big = [
      { name: 'a/data.pkl', data: pickle },
      storage,
      { name: 'a/byteorder', data: Buffer.from('big') },
    ];
    rejects(buildZip(big), /byte order "big" is not supported/);
    big[2] = { name: 'a/byteorder', data: Buffer.from('little') };
    assert.ok(parseTorchCheckpoint(buildZip(big), 'little.bin').has('w'));
  });
});

describe('pickle opcodes beyond protocol 2', () => {
  it('reads a protocol-4 state dict (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE, LONG1, 7-argument rebuild)', () => {
    const w = new PickleWriter().op(0x80, 4).op(0x95, 0, 0, 0, 0, 0, 0, 0, 0);
    const memoize = () => w.op(0x94);
    w.shortStr('collections');
    memoize();
    w.shortStr('OrderedDict');
    memoize();
    w.stackGlobal();
    memoize(); // memo 2: OrderedDict
    w.tupleOf(0).reduce();
    memoize();
    w.shortStr('w').shortStr('torch._utils').shortStr('_rebuild_tensor_v2').stackGlobal().mark();
    w.mark()
      .shortStr('storage')
      .shortStr('torch')
      .shortStr('FloatStorage')
      .stackGlobal()
      .shortStr('0')
      .shortStr('cpu')
      .long1(6n)
      .tuple()
      .persid();
    w.int(0)
      .int(2)
      .int(3)
      .tupleOf(2)
      .int(3)
      .int(1)
      .tupleOf(2)
      .newFalse()
      .get(2)
      .tupleOf(0)
      .reduce()
      .emptyDict()
      .tuple()
      .reduce();
    w.setitem().stop();
    const sd = parseTorchCheckpoint(torchZip(w.build_(), { '0': iota(6) }), 'p4.bin');
    assert.deepEqual(sd.get('w')?.dims, [2, 3]);
    assert.deepEqual([...(sd.get('w') as Tensor<'float32'>).data], [0, 1, 2, 3, 4, 5]);
  });

  it('decodes scalars exactly', () => {
    const w = new PickleWriter().proto().emptyList().mark();
    w.op(0x47, ...Buffer.from('3ff8000000000000', 'hex')); // BINFLOAT 1.5 (big-endian)
    w.none().op(0x88).newFalse().op(0x4a, 0xff, 0xff, 0xff, 0xff); // None, True, False, BININT -1
    w.long1(2n ** 70n)
      .long1(-129n)
      .long1(0n)
      .int(65535);
    w.str('é✓').op(0x43, 2, 1, 2); // BINUNICODE, SHORT_BINBYTES
    w.op(0x65).stop(); // APPENDS
    const list = unpickle(w.build_(), 'scalars.pkl') as PyList;
    assert.deepEqual(list.items, [
      1.5,
      null,
      true,
      false,
      -1,
      2n ** 70n,
      -129,
      0,
      65535,
      'é✓',
      Uint8Array.from([1, 2]),
    ]);
  });
});
