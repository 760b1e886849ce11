/**
 * The one reader of untrusted files (issue 23): only regular files are opened (a FIFO refused at once, not
 * waited on), and each kind of file has a byte cap checked from fstat before anything is read (counted, not
 * timed or measured).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import {
  type MAX_FILE_BYTES,
  readCounter,
  readInputFile,
  readInputFileSync,
} from '../../src/io/read-file.js';

const dir = mkdtempSync(join(tmpdir(), 'scoresde-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const refuses = async (path: string, message: RegExp, kind: keyof typeof MAX_FILE_BYTES = 'config') => {
  const before = readCounter.bytes;
  await assert.rejects(readInputFile(path, kind), (e: Error) => {
    assert.ok(e instanceof FileFormatError, String(e));
    assert.equal(e.message.split('\n').length, 1);
    assert.ok(e.message.startsWith(`${path}: `), e.message);
    assert.match(e.message, message);
    return true;
  });
  assert.throws(() => readInputFileSync(path, kind), message);
  assert.equal(readCounter.bytes, before, 'not a byte read');
};

describe('readInputFile', () => {
  it('reads a regular file whole, through a link too', async () => {
    writeFileSync(join(dir, 'a.json'), '{"a": 1}');
    symlinkSync(join(dir, 'a.json'), join(dir, 'link.json'));
    assert.equal((await readInputFile(join(dir, 'link.json'), 'config')).toString(), '{"a": 1}');
    assert.equal(readInputFileSync(join(dir, 'a.json'), 'config').toString(), '{"a": 1}');
  });

  it('refuses a FIFO at once, devices, folders and missing files, naming each', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    symlinkSync('/dev/urandom', join(dir, 'urandom'));
    mkdirSync(join(dir, 'folder.json'));
    await refuses(join(dir, 'fifo'), /: is a FIFO \(named pipe\), not a regular file$/);
    await refuses(join(dir, 'zero'), /: is a character device, not a regular file$/, 'training tensors');
    await refuses(join(dir, 'urandom'), /: is a character device, not a regular file$/, 'png');
    await refuses(join(dir, 'folder.json'), /: is a folder, not a file$/);
    await refuses(join(dir, 'none.json'), /: no such file$/);
  });

  it("refuses a file over its kind's cap from its size alone (a 300 MB manifest, a 400 MB journal)", async () => {
    const manifest = join(dir, 'manifest.json');
    writeFileSync(manifest, '');
    truncateSync(manifest, 300_000_000); // sparse: no disk, no memory
    await refuses(
      manifest,
      /: is 286\.1 MiB, over the 1\.0 MiB limit for a training manifest file$/,
      'training manifest',
    );
    const journal = join(dir, 'out.json.partial.json');
    writeFileSync(journal, '');
    truncateSync(journal, 400_000_000);
    await refuses(journal, /over the 64\.0 MiB limit for a likelihood journal file$/, 'likelihood journal');
  });

  it('reads /proc/self/mem by its fstat size (0 bytes) instead of failing with EIO', async () => {
    symlinkSync('/proc/self/mem', join(dir, 'mem.png'));
    assert.equal((await readInputFile(join(dir, 'mem.png'), 'png')).length, 0);
  });
});
