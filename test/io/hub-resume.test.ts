/** hfHubDownload when transfers go wrong: cuts, resumes, lying servers, concurrent downloads, locks. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import { HubConnectionError, hfHubDownload } from '../../src/io/hub.js';
import { COMMITS, type FakeHub, sha256, TINY, useFakeHub } from './hub-fake-server.js';

const REPO = 'test-org/tiny-ncsnpp';
const ST = 'unet/diffusion_pytorch_model.safetensors';
const ETAG = sha256(TINY.safetensors);
const SIZE = TINY.safetensors.length;

let hub: FakeHub;
let cacheDir: string;
const opts = () => ({ cacheDir, endpoint: hub.endpoint });
const storage = () => join(cacheDir, 'models--test-org--tiny-ncsnpp');
const blob = () => join(storage(), 'blobs', ETAG);
const pointer = () => join(storage(), 'snapshots', COMMITS.pipeline, ...ST.split('/'));
const lockFile = () => join(cacheDir, '.locks', 'models--test-org--tiny-ncsnpp', `${ETAG}.lock`);
const cdnGets = () => hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');

/** Asserts that nothing usable is left at the final paths. */
function assertNothingCached(): void {
  assert.equal(existsSync(blob()), false, 'no blob');
  assert.equal(existsSync(pointer()), false, 'no snapshot file');
}

useFakeHub('hub-resume-', (h, dir) => {
  hub = h;
  cacheDir = dir;
});

describe('interrupted downloads', () => {
  it('a cut leaves only .incomplete; the next call resumes with Range and completes', async () => {
    const cut = 1_000_000;
    hub.faults.dropAfter = { file: ST, bytes: cut, times: 1 };
    await assert.rejects(
      hfHubDownload(REPO, ST, { ...opts(), maxRetries: 0 }),
      (e: Error) =>
        e instanceof HubConnectionError &&
        /cut off after \d+ of 3346248 bytes/.test(e.message) &&
        /resume/.test(e.message),
    );
    assertNothingCached();
    const kept = statSync(`${blob()}.incomplete`).size;
    assert.ok(kept > 0 && kept <= cut, `kept ${kept} bytes`);
    assert.equal(existsSync(lockFile()), false, 'lock released');

    hub.requests.length = 0;
    const progress: number[] = [];
    const path = await hfHubDownload(REPO, ST, { ...opts(), onProgress: (p) => progress.push(p.loaded) });
    assert.equal(cdnGets().length, 1);
    assert.equal(cdnGets()[0].headers.range, `bytes=${kept}-`);
    assert.equal(progress[0], kept); // progress starts where the first run stopped
    assert.equal(sha256(readFileSync(path)), ETAG);
    assert.equal(existsSync(`${blob()}.incomplete`), false);
  });

  it('retries a cut by itself, resuming (default maxRetries)', async () => {
    hub.faults.dropAfter = { file: ST, bytes: 500_000, times: 2 };
    const path = await hfHubDownload(REPO, ST, opts());
    const starts = cdnGets().map((r) => Number(/^bytes=(\d+)-$/.exec(r.headers.range ?? 'bytes=0-')?.[1]));
    assert.equal(starts.length, 3);
    assert.equal(starts[0], 0);
    // Each retry resumes after what the previous requests delivered (at most 500000 bytes each).
    assert.ok(
      starts[1] > 0 && starts[1] <= 500_000 && starts[2] > starts[1] && starts[2] <= starts[1] + 500_000,
      `${starts}`,
    );
    assert.deepEqual(readFileSync(path), TINY.safetensors);
  });

  it('restarts from zero when the server ignores Range (200)', async () => {
    hub.faults.dropAfter = { file: ST, bytes: 700_000, times: 1 };
    hub.faults.ignoreRange = true;
    const path = await hfHubDownload(REPO, ST, opts());
    assert.match(cdnGets()[1].headers.range ?? '', /^bytes=[1-9]\d*-$/); // asked to resume, got the whole file
    assert.deepEqual(readFileSync(path), TINY.safetensors);
  });

  it('a cut regular (non-LFS) file is retried and completes', async () => {
    hub.faults.dropAfter = { file: 'unet/config.json', bytes: 100, times: 1 };
    const path = await hfHubDownload(REPO, 'config.json', { ...opts(), subfolder: 'unet' });
    assert.deepEqual(readFileSync(path), TINY.config);
    assert.equal(hub.requests.filter((r) => r.method === 'GET').length, 2);
  });

  it('abort keeps the partial file for a later resume and releases the lock', async () => {
    hub.faults.dropAfter = { file: ST, bytes: 300_000, times: 1 };
    const controller = new AbortController();
    await assert.rejects(
      hfHubDownload(REPO, ST, {
        ...opts(),
        signal: controller.signal,
        onProgress: (p) => {
          if (p.loaded > 0) controller.abort(new Error('stop here'));
        },
      }),
      /stop here/,
    );
    assertNothingCached();
    assert.ok(existsSync(`${blob()}.incomplete`));
    assert.equal(existsSync(lockFile()), false);
    const path = await hfHubDownload(REPO, ST, opts());
    assert.deepEqual(readFileSync(path), TINY.safetensors);
  });
});

describe('servers that lie', () => {
  it('announced size ≠ sent size → FileFormatError, nothing cached', async () => {
    hub.faults.announceSize = { file: ST, size: SIZE + 10 };
    await assert.rejects(
      hfHubDownload(REPO, ST, opts()),
      (e: Error) =>
        e instanceof FileFormatError &&
        e.message.includes(`${REPO}/${ST}`) &&
        e.message.includes(String(SIZE + 10)),
    );
    assertNothingCached();
    assert.equal(existsSync(`${blob()}.incomplete`), false);
  });

  it('announced size smaller than the body → FileFormatError, nothing cached', async () => {
    hub.faults.announceSize = { file: 'unet/config.json', size: 10 };
    await assert.rejects(
      hfHubDownload(REPO, 'config.json', { ...opts(), subfolder: 'unet' }),
      FileFormatError,
    );
    assert.equal(existsSync(join(storage(), 'snapshots', COMMITS.pipeline, 'unet', 'config.json')), false);
  });

  it('content not matching the sha256 etag → FileFormatError, nothing cached; a clean retry works', async () => {
    hub.faults.corrupt = ST;
    await assert.rejects(
      hfHubDownload(REPO, ST, opts()),
      (e: Error) => e instanceof FileFormatError && /sha256 [0-9a-f]{64} does not match/.test(e.message),
    );
    assertNothingCached();
    assert.equal(existsSync(`${blob()}.incomplete`), false);
    hub.faults = {};
    assert.equal(sha256(readFileSync(await hfHubDownload(REPO, ST, opts()))), ETAG);
  });

  it('a leftover .incomplete longer than the file is discarded', async () => {
    mkdirSync(join(storage(), 'blobs'), { recursive: true });
    writeFileSync(`${blob()}.incomplete`, Buffer.alloc(SIZE + 5, 1));
    const path = await hfHubDownload(REPO, ST, opts());
    assert.deepEqual(readFileSync(path), TINY.safetensors);
    assert.equal(cdnGets()[0].headers.range, undefined);
  });
});

describe('locking', () => {
  it('concurrent calls for one blob download it once', async () => {
    const paths = await Promise.all([hfHubDownload(REPO, ST, opts()), hfHubDownload(REPO, ST, opts())]);
    assert.equal(paths[0], paths[1]);
    assert.equal(cdnGets().length, 1);
    assert.deepEqual(readFileSync(paths[0]), TINY.safetensors);
  });

  it('waits while a live process holds the lock (abortable, no download)', async () => {
    mkdirSync(join(lockFile(), '..'), { recursive: true });
    writeFileSync(lockFile(), JSON.stringify({ pid: process.pid, host: hostname() }));
    await assert.rejects(hfHubDownload(REPO, ST, { ...opts(), signal: AbortSignal.timeout(300) }), {
      name: 'TimeoutError',
    });
    assert.equal(cdnGets().length, 0);
    assert.ok(existsSync(lockFile()), 'a lock we do not own is left alone');
  });

  it('breaks a lock of a dead process', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    mkdirSync(join(lockFile(), '..'), { recursive: true });
    writeFileSync(lockFile(), JSON.stringify({ pid: dead, host: hostname() }));
    assert.deepEqual(readFileSync(await hfHubDownload(REPO, ST, opts())), TINY.safetensors);
    assert.equal(existsSync(lockFile()), false);
  });

  it('breaks a lock not refreshed for a long time (other host)', async () => {
    mkdirSync(join(lockFile(), '..'), { recursive: true });
    writeFileSync(lockFile(), JSON.stringify({ pid: 1, host: 'some-other-host' }));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lockFile(), hourAgo, hourAgo);
    assert.deepEqual(readFileSync(await hfHubDownload(REPO, ST, opts())), TINY.safetensors);
  });
});
