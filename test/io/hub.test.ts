/** hfHubDownload against a loopback fake Hub: cache layout, reuse, offline mode, errors. */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  EntryNotFoundError,
  GatedRepoError,
  HubConnectionError,
  hfHubDownload,
  LocalEntryNotFoundError,
  RepositoryNotFoundError,
  RevisionNotFoundError,
} from '../../src/io/hub.js';
import { COMMITS, type FakeHub, gitBlobSha1, sha256, TINY, useFakeHub } from './hub-fake-server.js';

const REPO = 'test-org/tiny-ncsnpp';
const STORAGE = 'models--test-org--tiny-ncsnpp';
const ST = 'unet/diffusion_pytorch_model.safetensors';

let hub: FakeHub;
let cacheDir: string;
const opts = () => ({ cacheDir, endpoint: hub.endpoint });

useFakeHub('hub-test-', (h, dir) => {
  hub = h;
  cacheDir = dir;
});

describe('hfHubDownload: cache layout', () => {
  it('stores a regular file as blobs/<git sha1> + relative snapshot symlink + refs/main', async () => {
    const path = await hfHubDownload(REPO, 'config.json', { ...opts(), subfolder: 'unet' });
    const storage = join(cacheDir, STORAGE);
    assert.equal(path, join(storage, 'snapshots', COMMITS.pipeline, 'unet', 'config.json'));
    assert.ok(lstatSync(path).isSymbolicLink());
    assert.equal(readlinkSync(path), `../../../blobs/${gitBlobSha1(TINY.config)}`);
    assert.deepEqual(readFileSync(join(storage, 'blobs', gitBlobSha1(TINY.config))), TINY.config);
    assert.deepEqual(readFileSync(path), TINY.config);
    assert.equal(readFileSync(join(storage, 'refs', 'main'), 'utf8'), COMMITS.pipeline); // no newline, as in Python
    // HEAD names the branch; the GET is pinned to the commit the HEAD reported.
    assert.deepEqual(
      hub.requests.map((r) => `${r.method} ${r.path}`),
      [
        'HEAD /test-org/tiny-ncsnpp/resolve/main/unet/config.json',
        `GET /test-org/tiny-ncsnpp/resolve/${COMMITS.pipeline}/unet/config.json`,
      ],
    );
    assert.equal(existsSync(join(cacheDir, '.locks', STORAGE, `${gitBlobSha1(TINY.config)}.lock`)), false);
  });

  it('stores an LFS file under its sha256, fetched from the redirect target, with progress', async () => {
    const progress: { file: string; loaded: number; total: number }[] = [];
    const path = await hfHubDownload(REPO, ST, { ...opts(), onProgress: (p) => progress.push(p) });
    const etag = sha256(TINY.safetensors);
    assert.equal(readlinkSync(path), `../../../blobs/${etag}`);
    assert.deepEqual(readFileSync(path), TINY.safetensors);
    // HEAD on the hub (no redirect followed), then one GET straight to the CDN.
    assert.deepEqual(
      hub.requests.map((r) => `${r.server} ${r.method}`),
      ['hub HEAD', 'cdn GET'],
    );
    assert.equal(hub.requests[1].path, `/lfs/${etag}`);
    assert.equal(hub.requests[1].headers['accept-encoding'], 'identity');
    assert.ok(progress.length >= 2);
    assert.ok(progress.every((p) => p.file === ST && p.total === TINY.safetensors.length));
    assert.ok(progress.every((p, i) => i === 0 || p.loaded >= progress[i - 1].loaded));
    assert.equal(progress.at(-1)!.loaded, TINY.safetensors.length);
    assert.equal(existsSync(join(cacheDir, STORAGE, 'blobs', `${etag}.incomplete`)), false);
  });

  it('reuses the cache: a second call makes no GET, a commit-hash revision makes no request', async () => {
    const first = await hfHubDownload(REPO, ST, opts());
    hub.requests.length = 0;
    const second = await hfHubDownload(REPO, ST, opts());
    assert.equal(second, first);
    assert.equal(hub.count('GET'), 0);
    assert.equal(hub.count('HEAD'), 1); // the revision is still resolved, as huggingface_hub does
    hub.requests.length = 0;
    const pinned = await hfHubDownload(REPO, ST, { ...opts(), revision: COMMITS.pipeline });
    assert.equal(pinned, first);
    assert.equal(hub.requests.length, 0);
  });

  it('forceDownload fetches again and replaces the blob', async () => {
    await hfHubDownload(REPO, ST, opts());
    const blob = join(cacheDir, STORAGE, 'blobs', sha256(TINY.safetensors));
    writeFileSync(blob, 'damaged by hand');
    hub.requests.length = 0;
    const path = await hfHubDownload(REPO, ST, { ...opts(), forceDownload: true });
    assert.equal(hub.count('GET'), 1);
    assert.deepEqual(readFileSync(path), TINY.safetensors);
  });

  it('links a new snapshot path to an existing blob without downloading it again', async () => {
    await hfHubDownload(REPO, ST, opts());
    rmSync(join(cacheDir, STORAGE, 'snapshots'), { recursive: true });
    hub.requests.length = 0;
    const path = await hfHubDownload(REPO, ST, opts());
    assert.deepEqual(readFileSync(path), TINY.safetensors);
    assert.equal(hub.count('GET'), 0);
  });

  it('follows a relative redirect of a renamed repo, caching under the requested id', async () => {
    const path = await hfHubDownload('old-org/tiny-ncsnpp', 'model_index.json', opts());
    assert.equal(
      path,
      join(cacheDir, 'models--old-org--tiny-ncsnpp', 'snapshots', COMMITS.pipeline, 'model_index.json'),
    );
    assert.deepEqual(readFileSync(path), TINY.modelIndex);
    assert.deepEqual(
      hub.requests.map((r) => `${r.method} ${r.path}`),
      [
        'HEAD /old-org/tiny-ncsnpp/resolve/main/model_index.json',
        'HEAD /test-org/tiny-ncsnpp/resolve/main/model_index.json',
        'GET /test-org/tiny-ncsnpp/resolve/main/model_index.json',
      ],
    );
  });
});

describe('hfHubDownload: offline', () => {
  it('HF_HUB_OFFLINE=1 serves cached files without any request', async () => {
    const online = await hfHubDownload(REPO, ST, opts());
    hub.requests.length = 0;
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal(await hfHubDownload(REPO, ST, opts()), online);
    assert.equal(await hfHubDownload(REPO, ST, { ...opts(), revision: COMMITS.pipeline }), online);
    assert.equal(hub.requests.length, 0);
  });

  it('localFilesOnly fails clearly, naming repo and file, when not cached', async () => {
    await hfHubDownload(REPO, 'model_index.json', opts());
    hub.requests.length = 0;
    await assert.rejects(
      hfHubDownload(REPO, ST, { ...opts(), localFilesOnly: true }),
      (e: Error) =>
        e instanceof LocalEntryNotFoundError &&
        e.message.includes(`"${ST}"`) &&
        e.message.includes(`"${REPO}"`) &&
        e.message.includes('localFilesOnly'),
    );
    await assert.rejects(
      hfHubDownload(REPO, 'model_index.json', { ...opts(), localFilesOnly: true, revision: 'v2' }),
      LocalEntryNotFoundError,
    );
    await assert.rejects(
      hfHubDownload('test-org/never-seen', 'a.json', { ...opts(), localFilesOnly: true }),
      LocalEntryNotFoundError,
    );
    assert.equal(hub.requests.length, 0);
  });

  it('reads a cache written by Python (layout only, no metadata of ours)', async () => {
    // Build the exact tree huggingface_hub writes, by hand.
    const { mkdirSync, writeFileSync, symlinkSync } = await import('node:fs');
    const storage = join(cacheDir, 'models--google--ncsnpp-celebahq-256');
    const commit = '0123456789abcdef0123456789abcdef01234567';
    mkdirSync(join(storage, 'blobs'), { recursive: true });
    mkdirSync(join(storage, 'refs'));
    mkdirSync(join(storage, 'snapshots', commit, 'scheduler'), { recursive: true });
    writeFileSync(join(storage, 'blobs', 'abc123'), TINY.schedulerConfig);
    writeFileSync(join(storage, 'refs', 'main'), commit);
    symlinkSync(
      '../../../blobs/abc123',
      join(storage, 'snapshots', commit, 'scheduler', 'scheduler_config.json'),
    );
    const path = await hfHubDownload('google/ncsnpp-celebahq-256', 'scheduler/scheduler_config.json', {
      cacheDir,
      localFilesOnly: true,
    });
    assert.deepEqual(readFileSync(path), TINY.schedulerConfig);
  });
});

describe('hfHubDownload: errors', () => {
  it('unknown repo → RepositoryNotFoundError', async () => {
    await assert.rejects(
      hfHubDownload('test-org/nope', 'config.json', opts()),
      (e: Error) =>
        e instanceof RepositoryNotFoundError &&
        e.message.includes('"test-org/nope"') &&
        e.message.includes('404'),
    );
  });

  it('unknown file → EntryNotFoundError, remembered in .no_exist like huggingface_hub', async () => {
    await assert.rejects(
      hfHubDownload(REPO, 'missing.json', opts()),
      (e: Error) =>
        e instanceof EntryNotFoundError &&
        e.message.includes('"missing.json"') &&
        e.commitHash === COMMITS.pipeline,
    );
    assert.ok(existsSync(join(cacheDir, STORAGE, '.no_exist', COMMITS.pipeline, 'missing.json')));
    // Offline, the marker says "absent" rather than "not cached".
    await assert.rejects(
      hfHubDownload(REPO, 'missing.json', { ...opts(), localFilesOnly: true }),
      EntryNotFoundError,
    );
  });

  it('unknown revision → RevisionNotFoundError', async () => {
    await assert.rejects(
      hfHubDownload(REPO, 'config.json', { ...opts(), revision: 'v9' }),
      RevisionNotFoundError,
    );
  });

  it('private repo: 401 without token → RepositoryNotFoundError suggesting a token; works with token', async () => {
    await assert.rejects(
      hfHubDownload('test-org/private-model', 'config.json', opts()),
      (e: Error) =>
        e instanceof RepositoryNotFoundError && /401/.test(e.message) && /HF_TOKEN/.test(e.message),
    );
    await assert.rejects(
      hfHubDownload('test-org/private-model', 'config.json', { ...opts(), token: 'hf_wrong' }),
      (e: Error) => e instanceof RepositoryNotFoundError && /token that was sent/.test(e.message),
    );
    hub.requests.length = 0;
    const path = await hfHubDownload('test-org/private-model', 'config.json', {
      ...opts(),
      token: hub.validToken,
    });
    assert.deepEqual(readFileSync(path), TINY.config);
    assert.ok(hub.requests.every((r) => r.headers.authorization === `Bearer ${hub.validToken}`));
  });

  it('token from HF_TOKEN is sent to the Hub but not to the CDN', async () => {
    process.env.HF_TOKEN = hub.validToken;
    try {
      await hfHubDownload(REPO, ST, opts());
    } finally {
      delete process.env.HF_TOKEN;
    }
    const [head, get] = hub.requests;
    assert.equal(head.headers.authorization, `Bearer ${hub.validToken}`);
    assert.equal(get.server, 'cdn');
    assert.equal(get.headers.authorization, undefined);
  });

  it('gated repo → GatedRepoError', async () => {
    await assert.rejects(hfHubDownload('test-org/gated-model', 'config.json', opts()), GatedRepoError);
  });

  it('unreachable Hub: clear error when not cached, the cached copy otherwise (as huggingface_hub)', async () => {
    const cached = await hfHubDownload(REPO, 'model_index.json', opts());
    const closedPort = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => ok(port));
      });
    });
    const deadEndpoint = `http://127.0.0.1:${closedPort}`;
    await assert.rejects(
      hfHubDownload(REPO, 'config.json', { cacheDir, endpoint: deadEndpoint, subfolder: 'unet' }),
      (e: Error) =>
        e instanceof HubConnectionError &&
        e.message.includes('Could not reach the Hub') &&
        e.message.includes('ECONNREFUSED') &&
        e.message.includes('not in the cache'),
    );
    assert.equal(await hfHubDownload(REPO, 'model_index.json', { cacheDir, endpoint: deadEndpoint }), cached);
  });

  it('a Hub that never answers times out into HubConnectionError', async () => {
    hub.faults.hang = true;
    await assert.rejects(
      hfHubDownload(REPO, 'config.json', { ...opts(), timeoutMs: 200 }),
      (e: Error) => e instanceof HubConnectionError && e.message.includes('no answer within 0.2 s'),
    );
  });

  it('rejects bad arguments before any request', async () => {
    await assert.rejects(hfHubDownload('not a repo', 'x', opts()), TypeError);
    await assert.rejects(hfHubDownload('a--b/c', 'x', opts()), TypeError);
    await assert.rejects(hfHubDownload(REPO, '../../etc/passwd', opts()), /filename must be a relative path/);
    await assert.rejects(hfHubDownload(REPO, '/abs', opts()), TypeError);
    await assert.rejects(hfHubDownload(REPO, 'x', { ...opts(), revision: '../x' }), /revision/);
    await assert.rejects(hfHubDownload(REPO, 'x', { ...opts(), endpoint: 'ftp://x' }), /endpoint/);
    assert.equal(hub.requests.length, 0);
  });
});
