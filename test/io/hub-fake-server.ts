/**
 * A loopback stand-in for the Hub (127.0.0.1 only), answering resolve URLs the way the real Hub does:
 * `X-Repo-Commit`, quoted `ETag` (git blob sha1) for small files, a 302 with `X-Linked-Etag` (sha256) and
 * `X-Linked-Size` to a second "CDN" server for LFS files, `X-Error-Code` on errors, 401 for private
 * repos, relative redirects for renamed repos, and `Range` on the CDN. Faults can be switched on per test.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';

export interface FakeRepo {
  commit: string;
  /** Path in the repo → content. */
  files: Map<string, Buffer>;
  /** Paths served as LFS (redirect to the CDN, sha256 etag). */
  lfs: Set<string>;
  private?: boolean;
  gated?: boolean;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface Faults {
  /** GETs of these CDN/hub paths send only this many bytes, then the socket is destroyed (count-limited). */
  dropAfter?: { file: string; bytes: number; times: number };
  /** The CDN answers a Range request with the whole file (200). */
  ignoreRange?: boolean;
  /** HEAD announces this size for the file instead of the real one. */
  announceSize?: { file: string; size: number };
  /** The file's bytes are served with one byte flipped. */
  corrupt?: string;
  /** Every hub request is accepted and never answered. */
  hang?: boolean;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** The id git gives a blob: what the Hub sends as ETag for non-LFS files. */
export const gitBlobSha1 = (b: Buffer): string =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest('hex');

export class FakeHub {
  readonly repos = new Map<string, FakeRepo>();
  /** Old repo id → new repo id. */
  readonly renamed = new Map<string, string>();
  readonly requests: LoggedRequest[] = [];
  faults: Faults = {};
  validToken = 'hf_valid_test_token';
  endpoint = '';
  private cdnOrigin = '';
  private readonly hub: Server;
  private readonly cdn: Server;
  /** CDN path → content and the repo paths holding it, so faults can name the repo file. */
  private readonly cdnFiles = new Map<string, { content: Buffer; files: Set<string> }>();

  constructor() {
    this.hub = createServer((req, res) => {
      this.requests.push({
        server: 'hub',
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
      });
      if (this.faults.hang) return; // never answered; the client's timeout must fire
      this.handleHub(req.method ?? 'GET', req.url ?? '/', req.headers, res);
    });
    this.cdn = createServer((req, res) => {
      this.requests.push({
        server: 'cdn',
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
      });
      const entry = this.cdnFiles.get(req.url ?? '');
      if (!entry) {
        res.writeHead(404).end();
        return;
      }
      this.sendContent(entry.files, entry.content, req.method ?? 'GET', req.headers, res);
    });
  }

  async start(): Promise<this> {
    const listen = (s: Server) =>
      new Promise<number>((ok) => s.listen(0, '127.0.0.1', () => ok((s.address() as AddressInfo).port)));
    this.endpoint = `http://127.0.0.1:${await listen(this.hub)}`;
    this.cdnOrigin = `http://127.0.0.1:${await listen(this.cdn)}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((ok) => s.close(() => ok()));
    }
  }

  addRepo(id: string, repo: FakeRepo): void {
    this.repos.set(id, repo);
    for (const f of repo.lfs) {
      const content = repo.files.get(f)!;
      const key = `/lfs/${sha256(content)}`;
      const entry = this.cdnFiles.get(key) ?? { content, files: new Set<string>() };
      entry.files.add(f);
      this.cdnFiles.set(key, entry);
    }
  }

  /** Requests since the log was last cleared, optionally only one method. */
  count(method?: string, server?: 'hub' | 'cdn'): number {
    return this.requests.filter((r) => (!method || r.method === method) && (!server || r.server === server))
      .length;
  }

  private handleHub(method: string, url: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const [, repoId, revEscaped, pathEscaped] = m;
    const revision = decodeURIComponent(revEscaped);
    const file = pathEscaped.split('/').map(decodeURIComponent).join('/');
    const newId = this.renamed.get(repoId);
    if (newId) {
      res.writeHead(307, { location: `/${newId}/resolve/${revEscaped}/${pathEscaped}` }).end();
      return;
    }
    const repo = this.repos.get(repoId);
    const authorized = headers.authorization === `Bearer ${this.validToken}`;
    if (repo?.private && !authorized) {
      res.writeHead(401, { 'x-error-message': 'Invalid credentials in Authorization header' }).end();
      return;
    }
    if (!repo) {
      res.writeHead(404, { 'x-error-code': 'RepoNotFound', 'x-error-message': 'Repository not found' }).end();
      return;
    }
    if (repo.gated && !authorized) {
      res
        .writeHead(403, {
          'x-error-code': 'GatedRepo',
          'x-error-message': 'Access to this model is restricted',
        })
        .end();
      return;
    }
    if (revision !== 'main' && revision !== repo.commit) {
      res.writeHead(404, { 'x-error-code': 'RevisionNotFound', 'x-error-message': 'Invalid rev id' }).end();
      return;
    }
    const content = repo.files.get(file);
    if (!content) {
      res
        .writeHead(404, {
          'x-error-code': 'EntryNotFound',
          'x-error-message': 'Entry not found',
          'x-repo-commit': repo.commit,
        })
        .end();
      return;
    }
    const announced =
      this.faults.announceSize?.file === file ? this.faults.announceSize.size : content.length;
    if (repo.lfs.has(file)) {
      const body = 'Found. Redirecting';
      res
        .writeHead(302, {
          location: `${this.cdnOrigin}/lfs/${sha256(content)}`,
          'x-repo-commit': repo.commit,
          'x-linked-etag': `"${sha256(content)}"`,
          'x-linked-size': String(announced),
          etag: `W/"${gitBlobSha1(Buffer.from('pointer'))}"`, // the pointer file's etag: must not be used
          'content-length': String(body.length),
        })
        .end(method === 'HEAD' ? undefined : body);
      return;
    }
    res.setHeader('x-repo-commit', repo.commit);
    res.setHeader('etag', `"${gitBlobSha1(content)}"`);
    if (method === 'HEAD') {
      res.writeHead(200, { 'content-length': String(announced) }).end();
      return;
    }
    this.sendContent(new Set([file]), content, method, headers, res);
  }

  /** Serves a file with Range support and the configured faults. */
  private sendContent(
    files: Set<string>,
    content: Buffer,
    method: string,
    headers: IncomingHttpHeaders,
    res: ServerResponse,
  ): void {
    let body = content;
    if (this.faults.corrupt !== undefined && files.has(this.faults.corrupt)) {
      body = Buffer.from(content);
      body[body.length >> 1] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(headers.range ?? '');
    if (range && !this.faults.ignoreRange) {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': String(body.length - start),
      });
    } else {
      res.writeHead(200, { 'content-length': String(body.length) });
    }
    if (method === 'HEAD') {
      res.end();
      return;
    }
    const drop = this.faults.dropAfter;
    if (drop && files.has(drop.file) && drop.times > 0) {
      drop.times--;
      // A pause before the cut lets the client take in the bytes (a stream that errors drops what it queued).
      res.write(body.subarray(start, start + drop.bytes), () => setTimeout(() => res.socket?.destroy(), 30));
      return;
    }
    res.end(body.subarray(start));
  }
}

// ---- The test repos, built from the tiny-ncsnpp fixture ----

const fixture = (p: string): Buffer => readFileSync(new URL(`../fixtures/models/${p}`, import.meta.url));

export const TINY = {
  config: fixture('tiny-ncsnpp/config.json'),
  safetensors: fixture('tiny-ncsnpp/diffusion_pytorch_model.safetensors'),
  bin: fixture('tiny-ncsnpp/diffusion_pytorch_model.bin'),
  modelIndex: fixture('real-configs/ncsnpp-celebahq-256/model_index.json'),
  /** What `ScoreSdeVeScheduler().save_config` writes (diffusers 0.23.0 defaults). */
  schedulerConfig: Buffer.from(
    `${JSON.stringify(
      {
        _class_name: 'ScoreSdeVeScheduler',
        _diffusers_version: '0.23.0',
        correct_steps: 1,
        num_train_timesteps: 2000,
        sampling_eps: 1e-5,
        sigma_max: 1348.0,
        sigma_min: 0.01,
        snr: 0.15,
      },
      null,
      2,
    )}\n`,
  ),
};

export const COMMITS = {
  pipeline: 'a'.repeat(40),
  root: 'b'.repeat(40),
  bare: 'c'.repeat(40),
  private: 'd'.repeat(40),
  gated: 'e'.repeat(40),
  rootSchedulerDir: 'f'.repeat(40),
};

/** Starts a fake Hub holding the test repos. */
export async function startFakeHub(): Promise<FakeHub> {
  const hub = await new FakeHub().start();
  // Pipeline layout (save_pretrained of a ScoreSdeVePipeline).
  hub.addRepo('test-org/tiny-ncsnpp', {
    commit: COMMITS.pipeline,
    files: new Map([
      ['model_index.json', TINY.modelIndex],
      ['unet/config.json', TINY.config],
      ['unet/diffusion_pytorch_model.safetensors', TINY.safetensors],
      ['unet/diffusion_pytorch_model.bin', TINY.bin],
      ['unet/diffusion_pytorch_model.fp16.safetensors', TINY.safetensors.subarray(0, 100_000)],
      ['scheduler/scheduler_config.json', TINY.schedulerConfig],
    ]),
    lfs: new Set([
      'unet/diffusion_pytorch_model.safetensors',
      'unet/diffusion_pytorch_model.bin',
      'unet/diffusion_pytorch_model.fp16.safetensors',
    ]),
  });
  // Like google/ncsnpp-celebahq-256: a model_index.json, but the UNet files (.bin only) at the root.
  hub.addRepo('test-org/tiny-root', {
    commit: COMMITS.root,
    files: new Map([
      ['model_index.json', TINY.modelIndex],
      ['config.json', TINY.config],
      ['diffusion_pytorch_model.bin', TINY.bin],
      ['scheduler_config.json', TINY.schedulerConfig],
    ]),
    lfs: new Set(['diffusion_pytorch_model.bin']),
  });
  // UNet files at the root, scheduler config in scheduler/.
  hub.addRepo('test-org/root-unet-scheduler-dir', {
    commit: COMMITS.rootSchedulerDir,
    files: new Map([
      ['model_index.json', TINY.modelIndex],
      ['config.json', TINY.config],
      ['diffusion_pytorch_model.safetensors', TINY.safetensors],
      ['scheduler/scheduler_config.json', TINY.schedulerConfig],
    ]),
    lfs: new Set(['diffusion_pytorch_model.safetensors']),
  });
  // A bare UNet repo: no model_index.json, no scheduler config.
  hub.addRepo('test-org/bare-unet', {
    commit: COMMITS.bare,
    files: new Map([
      ['config.json', TINY.config],
      ['diffusion_pytorch_model.safetensors', TINY.safetensors],
    ]),
    lfs: new Set(['diffusion_pytorch_model.safetensors']),
  });
  hub.addRepo('test-org/private-model', {
    commit: COMMITS.private,
    files: new Map([['config.json', TINY.config]]),
    lfs: new Set(),
    private: true,
  });
  hub.addRepo('test-org/gated-model', {
    commit: COMMITS.gated,
    files: new Map([['config.json', TINY.config]]),
    lfs: new Set(),
    gated: true,
  });
  hub.renamed.set('old-org/tiny-ncsnpp', 'test-org/tiny-ncsnpp');
  return hub;
}

/** Clears every HF_* setting that could make a test touch the real cache, token or Hub. */
export function isolateHubEnv(): void {
  for (const k of Object.keys(process.env)) {
    if (
      k.startsWith('HF_') ||
      k.startsWith('HUGGINGFACE_') ||
      k === 'HUGGING_FACE_HUB_TOKEN' ||
      k === 'XDG_CACHE_HOME'
    ) {
      delete process.env[k];
    }
  }
}

/**
 * The lifecycle every Hub test file shares: isolated HF_* environment and one fake Hub for the file;
 * before each test a fresh cache folder (named after `cachePrefix`), an empty request log, no faults
 * and online mode. `onEach` receives the hub and that test's cache folder.
 */
export function useFakeHub(cachePrefix: string, onEach: (hub: FakeHub, cacheDir: string) => void): void {
  let hub: FakeHub;
  before(async () => {
    isolateHubEnv();
    hub = await startFakeHub();
  });
  after(async () => {
    await hub.close();
  });
  beforeEach(() => {
    delete process.env.HF_HUB_OFFLINE;
    hub.requests.length = 0;
    hub.faults = {};
    onEach(hub, mkdtempSync(join(tmpdir(), cachePrefix)));
  });
}
