import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../src/errors.js';
import {
  PyDict,
  PyList,
  parseTorchCheckpoint,
  TorchStorageRef,
  unpickle,
} from '../../src/io/torch-pickle.js';
import { loadStateDict } from '../../src/io/weights.js';
import { ZipArchive } from '../../src/io/zip.js';
import {
  bytesOf,
  floatTensorSpec,
  PickleWriter,
  stateDictPickle,
  torchZip,
  withTempDir,
} from './builders.js';

const BIN = fileURLToPath(
  new URL('../fixtures/models/tiny-ddpm/diffusion_pytorch_model.bin', import.meta.url),
);

/** Asserts that unpickling `bytes` throws a FileFormatError naming the file and matching `pattern`. */
function refuses(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => unpickle(bytes, 'evil.pkl', { persistentLoad: () => null }),
    (e: Error) => {
      assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${e.name}: ${e.message}`);
      assert.match(e.message, /^evil\.pkl: /);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

const pw = () => new PickleWriter().proto();

describe('malicious pickles', () => {
  it('refuses os.system, builtins.eval, __builtin__.exec and other globals, naming them', () => {
    refuses(
      pw().global('os', 'system').str('echo pwned').tupleOf(1).reduce().stop().build_(),
      /global "os\.system" is not allowed/,
    );
    refuses(
      pw().global('__builtin__', 'exec').str('1').tupleOf(1).reduce().stop().build_(),
      /global "__builtin__\.exec" is not allowed/,
    );
    refuses(
      pw().shortStr('builtins').shortStr('eval').stackGlobal().str('1').tupleOf(1).reduce().stop().build_(),
      /global "builtins\.eval" is not allowed/,
    );
    refuses(pw().global('posix', 'system').stop().build_(), /"posix\.system"/);
    refuses(pw().global('torch', 'load').stop().build_(), /"torch\.load"/);
    refuses(
      pw().global('numpy.core.multiarray', '_reconstruct').stop().build_(),
      /"numpy\.core\.multiarray\._reconstruct"/,
    );
    refuses(
      pw().global('collections', 'OrderedDict ').stop().build_(),
      /"collections\.OrderedDict " is not allowed/,
    );
    refuses(pw().global('torch.FloatStorage', '').stop().build_(), /is not allowed/);
  });

  it('refuses the same global inside a real-looking checkpoint, naming the archive entry', async () => {
    const pickle = pw().global('os', 'system').str('touch /tmp/pwned').tupleOf(1).reduce().stop().build_();
    await withTempDir(async (dir) => {
      const path = join(dir, 'diffusion_pytorch_model.bin');
      await writeFile(path, torchZip(pickle, {}));
      await assert.rejects(loadStateDict(path), (e: Error) => {
        assert.ok(e instanceof FileFormatError);
        assert.ok(e.message.startsWith(`${path} (archive/data.pkl): `), e.message);
        assert.match(e.message, /"os\.system" is not allowed/);
        return true;
      });
    });
  });

  it('refuses opcodes that call or import anything outside the allowlist (INST, OBJ, NEWOBJ, EXT*)', () => {
    refuses(
      pw()
        .op(0x69, ...Buffer.from('os\nsystem\n'))
        .stop()
        .build_(),
      /unknown or unsupported opcode.*opcode 0x69/,
    );
    refuses(pw().mark().op(0x6f).stop().build_(), /opcode 0x6f/); // OBJ
    refuses(pw().emptyDict().tupleOf(0).op(0x81).stop().build_(), /opcode 0x81/); // NEWOBJ
    refuses(pw().op(0x82, 1).stop().build_(), /opcode 0x82/); // EXT1
    refuses(pw().op(0xff).build_(), /opcode 0xff at byte 2/);
    refuses(Uint8Array.from([0x80, 6, 0x4e, 0x2e]), /unsupported pickle protocol 6/);
  });

  it('refuses calling allowed globals in ways a state dict never does', () => {
    refuses(
      pw().global('torch', 'FloatStorage').tupleOf(0).reduce().stop().build_(),
      /torch\.FloatStorage is not callable/,
    );
    refuses(
      pw().global('collections', 'OrderedDict').emptyList().tupleOf(1).reduce().stop().build_(),
      /OrderedDict\(\.\.\.\) with arguments/,
    );
    refuses(pw().str('x').tupleOf(0).reduce().stop().build_(), /REDUCE on a str, not an allowed callable/);
    refuses(
      pw().global('torch._utils', '_rebuild_tensor_v2').int(1).tupleOf(1).reduce().stop().build_(),
      /takes 6 or 7 arguments/,
    );
    refuses(pw().emptyList().emptyDict().build().stop().build_(), /BUILD of a list/);
  });

  it('rejects lengths that run past the end without allocating them', () => {
    const huge = (op: number, lenBytes: number[]) => Uint8Array.from([0x80, 2, op, ...lenBytes, 0x61, 0x62]);
    refuses(huge(0x58, [0xf0, 0xff, 0xff, 0xff]), /needs 4294967280 more bytes, only 2 left \(truncated\?\)/);
    refuses(huge(0x8d, [0, 0, 0, 0, 0, 0, 0, 0x40]), /length 4611686018427387904 runs past the end/);
    refuses(huge(0x8e, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), /runs past the end/);
    refuses(huge(0x42, [0xff, 0xff, 0xff, 0x7f]), /needs 2147483647 more bytes/);
    refuses(huge(0x8b, [0xff, 0xff, 0xff, 0x7f]), /integer of 2147483647 bytes is not supported/);
    refuses(
      pw()
        .op(0x63, ...Buffer.from('os'))
        .build_(),
      /unterminated line/,
    );
  });

  it('handles deep nesting iteratively and still refuses non-state-dict results', () => {
    const depth = 100_000;
    const nested = new PickleWriter().proto();
    for (let i = 0; i < depth; i++) nested.emptyList();
    for (let i = 1; i < depth; i++) nested.append();
    const list = unpickle(nested.stop().build_(), 'deep.pkl');
    assert.ok(list instanceof PyList);
    let level = 0;
    for (let l: PyList = list; l.items.length > 0; l = l.items[0] as PyList) level++;
    assert.equal(level, depth - 1);

    const marks = new PickleWriter().proto();
    for (let i = 0; i < depth; i++) marks.mark();
    for (let i = 0; i < depth; i++) marks.tuple();
    assert.throws(
      () => parseTorchCheckpoint(torchZip(marks.stop().build_(), {}), 'deep.bin'),
      /deep\.bin: torch checkpoint holds a 1-tuple, not a state dict/,
    );
    const open = new PickleWriter().proto();
    for (let i = 0; i < depth; i++) open.mark();
    refuses(open.build_(), /no STOP opcode before the end of the pickle/);
  });

  it('rejects stack underflow, memo misses and malformed containers', () => {
    refuses(pw().reduce().build_(), /stack underflow/);
    refuses(pw().stop().build_(), /stack underflow/);
    refuses(pw().none().mark().tupleOf(1).build_(), /stack underflow/); // TUPLE1 may not reach below the MARK
    refuses(pw().tuple().build_(), /no MARK on the stack/);
    refuses(pw().get(5).build_(), /memo key 5 was never stored/);
    refuses(pw().get(70000).build_(), /memo key 70000 was never stored/);
    refuses(pw().none().str('k').str('v').setitem().build_(), /SETITEM\(S\) on None, not a dict/);
    refuses(pw().emptyDict().emptyList().none().setitem().build_(), /unsupported dict key \(a list\)/);
    refuses(pw().emptyDict().mark().str('k').setitems().build_(), /odd number of items/);
    refuses(pw().emptyDict().none().append().build_(), /APPEND\(S\) on a dict, not a list/);
    assert.throws(
      () => unpickle(pw().none().persid().stop().build_(), 'p.pkl'),
      /p\.pkl: invalid pickle: persistent ids are not supported here/,
    );
  });

  it('rejects malformed persistent ids and non-tensor entries', () => {
    const withPid = (pid: (w: PickleWriter) => PickleWriter) =>
      pid(pw().global('collections', 'OrderedDict').tupleOf(0).reduce().str('w'))
        .persid()
        .setitem()
        .stop()
        .build_();
    const bad = (pickle: Uint8Array, pattern: RegExp) =>
      assert.throws(
        () => parseTorchCheckpoint(torchZip(pickle, {}), 'pid.bin'),
        (e: Error) => e instanceof FileFormatError && pattern.test(e.message),
      );
    bad(
      withPid((w) => w.str('storage')),
      /invalid torch persistent id: expected \('storage', class, key, location, numel\), got a str/,
    );
    bad(
      withPid((w) =>
        w.mark().str('storage').global('collections', 'OrderedDict').str('0').str('cpu').int(1).tuple(),
      ),
      /storage class is collections\.OrderedDict/,
    );
    bad(
      withPid((w) =>
        w
          .mark()
          .str('storage')
          .global('torch', 'FloatStorage')
          .str('../../etc/passwd')
          .str('cpu')
          .int(1)
          .tuple(),
      ),
      /storage key is not a short name/,
    );
    bad(
      withPid((w) =>
        w.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').none().tuple(),
      ),
      /invalid element count/,
    );
    const notTensor = pw()
      .global('collections', 'OrderedDict')
      .tupleOf(0)
      .reduce()
      .str('w')
      .int(3)
      .setitem()
      .stop()
      .build_();
    bad(notTensor, /state dict entry "w" is an int, not a tensor/);
  });

  it('interprets the fixture pickle and survives random byte flips with clean errors', async () => {
    const zip = ZipArchive.open(await readFile(BIN), BIN);
    const pickle = zip.read('diffusion_pytorch_model/data.pkl');
    const storage = new TorchStorageRef('0', 'float32', 2 ** 20);
    const root = unpickle(pickle, 'data.pkl', { persistentLoad: () => storage });
    assert.ok(root instanceof PyDict && root.ordered);
    assert.equal(root.map.size, 208);
    assert.ok(root.attributes?.map.has('_metadata'));
    // A deterministic LCG picks flips; each result must be a FileFormatError or a parsed value, never a crash.
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    let errors = 0;
    for (let trial = 0; trial < 400; trial++) {
      const copy = pickle.slice();
      for (let k = 0; k < 3; k++) copy[next() % copy.length] ^= 1 << (next() % 8);
      try {
        unpickle(copy, 'flipped.pkl', { persistentLoad: () => storage });
      } catch (e) {
        assert.ok(
          e instanceof FileFormatError,
          `trial ${trial}: ${(e as Error).name}: ${(e as Error).message}`,
        );
        errors++;
      }
    }
    assert.ok(errors > 100, `only ${errors} of 400 flipped pickles were rejected`);
    // Every proper prefix is a truncated pickle.
    for (let cut = 0; cut < pickle.length; cut += 97) refuses(pickle.subarray(0, cut), /./);
  });

  it('checks truncated and flipped checkpoints end to end', () => {
    const good = torchZip(stateDictPickle([floatTensorSpec()]), {
      '0': bytesOf(Float32Array.from([1, 2, 3, 4])),
    });
    assert.deepEqual([...(parseTorchCheckpoint(good, 'ok.bin').get('w')?.data ?? [])], [1, 2, 3, 4]);
    for (let cut = 0; cut < good.length; cut++) {
      assert.throws(
        () => parseTorchCheckpoint(good.subarray(0, cut), 'cut.bin'),
        (e: Error) => e instanceof FileFormatError && e.message.startsWith('cut.bin'),
      );
    }
  });
});
