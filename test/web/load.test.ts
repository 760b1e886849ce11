/**
 * The browser build's model loading (src/web/load.ts, fetch-file.ts) in Node, against the demo server:
 * URLs for folders and Hub repo ids, both diffusers layouts, progress, Cache Storage (an in-memory
 * stand-in here; the browser tests use the real one), and the error messages. No browser needed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
// @ts-expect-error: plain .mjs script without type declarations
import { serveWeb } from '../../scripts/serve-web.mjs';
import { fitGaussian, saveGaussian } from '../../src/diagnostics/index.js';
import { ConfigError, FileFormatError } from '../../src/errors.js';
import { randomStateDict, resolveUnetConfig, UNet2DModel } from '../../src/models/unet-2d/index.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { type FetchProgress, fetchModelFile, ModelFetchError } from '../../src/web/fetch-file.js';
import { loadModelFiles, loadModelGaussian, modelFileUrl } from '../../src/web/load.js';
import { fixturePath } from '../pipelines/helpers.js';

/** A Cache Storage stand-in: one in-memory cache per name. */
function memoryCaches() {
  const stores = new Map<string, Map<string, Response>>();
  return {
    async open(name: string) {
      const store = stores.get(name) ?? new Map<string, Response>();
      stores.set(name, store);
      return {
        match: async (url: string) => store.get(url)?.clone(),
        put: async (url: string, r: Response) => void store.set(url, r),
      };
    },
    async delete(name: string) {
      return stores.delete(name);
    },
  };
}

describe('browser model loading (in Node)', () => {
  let server: { url: string; close(): Promise<void> };
  let dir: string;
  const requests: string[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scoresde-web-load-'));
    const raw = {
      sample_size: 8,
      in_channels: 1,
      out_channels: 1,
      block_out_channels: [32],
      layers_per_block: 1,
    };
    const cfg = { ...raw, down_block_types: ['DownBlock2D'], up_block_types: ['UpBlock2D'] };
    const unet = UNet2DModel.fromConfig(cfg, randomStateDict(resolveUnetConfig(cfg), 0));
    await new ScoreSdeVePipeline({
      unet,
      scheduler: new ScoreSdeVeScheduler({ sigmaMax: 20 }),
    }).savePretrained(join(dir, 'pipe'));
    await writeFile(join(dir, 'pipe', 'notes.txt'), 'x');
    server = await serveWeb({
      demoDir: dir,
      modelDirs: [fixturePath('models'), dir],
      onRequest: (p: string) => requests.push(p),
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
    delete (globalThis as { caches?: unknown }).caches;
  });

  it('builds file URLs for folders and Hub repo ids, and rejects bad repo ids', () => {
    assert.equal(modelFileUrl({ url: 'http://h/a/b' }, 'config.json'), 'http://h/a/b/config.json');
    assert.equal(modelFileUrl({ url: 'http://h/a/b/' }, 'unet/config.json'), 'http://h/a/b/unet/config.json');
    assert.equal(
      modelFileUrl({ repo: 'me/model', endpoint: 'http://hub/' }, 'config.json'),
      'http://hub/me/model/resolve/main/config.json',
    );
    assert.equal(
      modelFileUrl({ repo: 'me/model', endpoint: 'http://hub', revision: 'v1.0' }, 'x.json'),
      'http://hub/me/model/resolve/v1.0/x.json',
    );
    for (const repo of ['../etc', 'a/b/c', 'a b', ''])
      assert.throws(() => modelFileUrl({ repo, endpoint: 'http://hub' }, 'x'), ConfigError, repo);
  });

  it('loads a bare UNet folder and a pipeline folder, with progress', async () => {
    const progress: FetchProgress[] = [];
    const bare = await loadModelFiles(
      { url: `${server.url}models/tiny-ncsnpp` },
      { onProgress: (p) => progress.push(p) },
    );
    assert.equal(bare.config.time_embedding_type, 'fourier');
    assert.equal(bare.schedulerConfig, null);
    assert.ok(bare.stateDict.has('time_proj.weight'));
    const last = progress.filter((p) => p.url === bare.weightsUrl).at(-1)!;
    assert.ok(last.total && last.loaded === last.total && !last.fromCache);

    const before = requests.length;
    const pipe = await loadModelFiles({ repo: 'someone/pipe', endpoint: `${server.url}hub` });
    assert.match(pipe.configUrl, /\/hub\/someone\/pipe\/resolve\/main\/unet\/config\.json$/);
    // model_index.json first: a pipeline folder loads without probing for a root config.json (a 404 that a
    // browser logs as a console error).
    assert.deepEqual(
      requests.slice(before).map((p) => p.replace(/^.*\/resolve\/main\//, '')),
      [
        'model_index.json',
        'unet/config.json',
        'scheduler/scheduler_config.json',
        'unet/diffusion_pytorch_model.safetensors',
      ],
    );
    assert.equal(pipe.config.in_channels, 1);
    assert.equal(pipe.schedulerConfig?.sigma_max, 20);
    assert.match(pipe.schedulerUrl, /\/resolve\/main\/scheduler\/scheduler_config\.json$/);
  });

  it('reads a cached model with no request, and does not cache bytes that fail their check', async () => {
    (globalThis as { caches?: unknown }).caches = memoryCaches();
    const source = { url: `${server.url}models/tiny-ncsnpp/` };
    await loadModelFiles(source);
    const before = requests.length;
    const progress: FetchProgress[] = [];
    const again = await loadModelFiles(source, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(requests.slice(before), []);
    assert.ok(progress.length > 0 && progress.every((p) => p.fromCache));
    assert.ok(again.stateDict.size > 0);

    const notes = `${server.url}models/pipe/notes.txt`;
    const reject = () => {
      throw new FileFormatError(notes, 'not what was expected');
    };
    await assert.rejects(fetchModelFile(notes, { validate: reject }), FileFormatError);
    const n = requests.length;
    await assert.rejects(fetchModelFile(notes, { validate: reject }), FileFormatError);
    assert.equal(requests.length, n + 1, 'bytes that failed validation were served from the cache');
    delete (globalThis as { caches?: unknown }).caches;
  });

  it('names the URL and the problem for a 404, a dead server and a wrong file type', async () => {
    await assert.rejects(
      loadModelFiles({ url: `${server.url}models/nope/` }),
      (e: Error) =>
        e instanceof ModelFetchError &&
        e.status === 404 &&
        /nope\/config\.json: HTTP 404: no config\.json here/.test(e.message),
    );
    await assert.rejects(
      fetchModelFile('http://127.0.0.1:9/x.json'),
      (e: Error) => e instanceof ModelFetchError && /x\.json: could not be fetched/.test(e.message),
    );
    await assert.rejects(
      loadModelFiles({ url: server.url }), // the demo folder: index.html, no model
      /config\.json: HTTP 404/,
    );
  });

  it("fetches the model's gaussian.safetensors only when asked, as the Node loader reads it, and names a missing or bad one", async () => {
    const d = 4;
    const rows = Float32Array.from({ length: 40 * d }, (_, i) => Math.sin(i * 0.37) + (i % d) * 0.1);
    const g = await fitGaussian((i, out) => out.set(rows.subarray(i * d, (i + 1) * d)), 40, d);
    await saveGaussian(join(dir, 'pipe', 'gaussian.safetensors'), g);
    const hub = { repo: 'someone/pipe', endpoint: `${server.url}hub` };
    const got = await loadModelGaussian(hub);
    assert.equal(got.kind, g.kind);
    assert.deepEqual([...got.eigenvalues], [...Float64Array.from(Float32Array.from(g.eigenvalues))]);
    assert.deepEqual([...got.mean], [...Float64Array.from(Float32Array.from(g.mean))]);
    await assert.rejects(
      loadModelGaussian({ url: `${server.url}models/tiny-ncsnpp` }),
      (e: Error) =>
        e instanceof FileFormatError &&
        /tiny-ncsnpp\/gaussian\.safetensors: not found: gaussianAbove/.test(e.message),
    );
    await writeFile(join(dir, 'pipe', 'gaussian.safetensors'), 'not safetensors at all');
    await assert.rejects(
      loadModelGaussian({ url: `${server.url}hub/someone/pipe/resolve/main/` }),
      (e: Error) =>
        e instanceof FileFormatError && /pipe\/resolve\/main\/gaussian\.safetensors/.test(e.message),
    );
  });
});
