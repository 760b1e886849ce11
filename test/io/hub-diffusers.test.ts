/** downloadDiffusersModel against the loopback fake Hub: both repo layouts, weights choice, offline reuse. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  downloadDiffusersModel,
  EntryNotFoundError,
  HubConnectionError,
  LocalEntryNotFoundError,
} from '../../src/io/hub.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { COMMITS, type FakeHub, TINY, useFakeHub } from './hub-fake-server.js';

let hub: FakeHub;
let cacheDir: string;
const opts = () => ({ cacheDir, endpoint: hub.endpoint });
/** `METHOD path` of every hub request whose path holds one of the repo's files. */
const fileRequests = () => hub.requests.filter((r) => r.server === 'hub').map((r) => `${r.method} ${r.path}`);

useFakeHub('hub-diffusers-', (h, dir) => {
  hub = h;
  cacheDir = dir;
});

describe('downloadDiffusersModel', () => {
  it('pipeline layout: model_index + unet/ + scheduler/, safetensors preferred, all from one commit', async () => {
    const dir = await downloadDiffusersModel('test-org/tiny-ncsnpp', opts());
    assert.equal(dir, join(cacheDir, 'models--test-org--tiny-ncsnpp', 'snapshots', COMMITS.pipeline));
    assert.deepEqual(readFileSync(join(dir, 'model_index.json')), TINY.modelIndex);
    assert.deepEqual(readFileSync(join(dir, 'unet', 'config.json')), TINY.config);
    assert.deepEqual(readFileSync(join(dir, 'scheduler', 'scheduler_config.json')), TINY.schedulerConfig);
    assert.equal(existsSync(join(dir, 'unet', 'diffusion_pytorch_model.bin')), false);
    const weights = await loadSafetensors(join(dir, 'unet', 'diffusion_pytorch_model.safetensors'));
    assert.ok(weights.tensors.size > 100);
    assert.equal(weights.metadata.format, 'pt');
    // Only the first request names the branch; the rest are pinned to the commit it resolved to.
    const heads = fileRequests().filter((r) => r.startsWith('HEAD'));
    assert.deepEqual(heads, [
      'HEAD /test-org/tiny-ncsnpp/resolve/main/model_index.json',
      `HEAD /test-org/tiny-ncsnpp/resolve/${COMMITS.pipeline}/unet/config.json`,
      `HEAD /test-org/tiny-ncsnpp/resolve/${COMMITS.pipeline}/unet/diffusion_pytorch_model.safetensors`,
      `HEAD /test-org/tiny-ncsnpp/resolve/${COMMITS.pipeline}/scheduler/scheduler_config.json`,
    ]);
  });

  it('useSafetensors: false takes the .bin; variant picks the variant file', async () => {
    const dir = await downloadDiffusersModel('test-org/tiny-ncsnpp', { ...opts(), useSafetensors: false });
    assert.deepEqual(readFileSync(join(dir, 'unet', 'diffusion_pytorch_model.bin')), TINY.bin);
    assert.equal(existsSync(join(dir, 'unet', 'diffusion_pytorch_model.safetensors')), false);
    await downloadDiffusersModel('test-org/tiny-ncsnpp', { ...opts(), variant: 'fp16' });
    assert.deepEqual(
      readFileSync(join(dir, 'unet', 'diffusion_pytorch_model.fp16.safetensors')),
      TINY.safetensors.subarray(0, 100_000),
    );
    await assert.rejects(
      downloadDiffusersModel('test-org/tiny-ncsnpp', { ...opts(), variant: '../x' }),
      TypeError,
    );
  });

  it('root-level repo with a model_index.json (like google/ncsnpp-celebahq-256), .bin fallback', async () => {
    const dir = await downloadDiffusersModel('test-org/tiny-root', opts());
    assert.equal(dir, join(cacheDir, 'models--test-org--tiny-root', 'snapshots', COMMITS.root));
    assert.deepEqual(readFileSync(join(dir, 'config.json')), TINY.config);
    assert.deepEqual(readFileSync(join(dir, 'diffusion_pytorch_model.bin')), TINY.bin);
    assert.deepEqual(readFileSync(join(dir, 'scheduler_config.json')), TINY.schedulerConfig);
    assert.equal(existsSync(join(dir, 'unet')), false);
  });

  it('root-level UNet with the scheduler config in scheduler/', async () => {
    const dir = await downloadDiffusersModel('test-org/root-unet-scheduler-dir', opts());
    assert.deepEqual(readFileSync(join(dir, 'diffusion_pytorch_model.safetensors')), TINY.safetensors);
    assert.deepEqual(readFileSync(join(dir, 'scheduler', 'scheduler_config.json')), TINY.schedulerConfig);
  });

  it('useSafetensors: true on a .bin-only repo → EntryNotFoundError naming the file', async () => {
    await assert.rejects(
      downloadDiffusersModel('test-org/tiny-root', { ...opts(), useSafetensors: true }),
      (e: Error) =>
        e instanceof EntryNotFoundError && e.message.includes('"diffusion_pytorch_model.safetensors"'),
    );
  });

  it('bare UNet repo: no model_index.json, no scheduler config', async () => {
    const dir = await downloadDiffusersModel('test-org/bare-unet', opts());
    assert.deepEqual(readFileSync(join(dir, 'config.json')), TINY.config);
    assert.deepEqual(readFileSync(join(dir, 'diffusion_pytorch_model.safetensors')), TINY.safetensors);
    assert.equal(existsSync(join(dir, 'scheduler_config.json')), false);
  });

  it('offline after one online run: same folder, no request (root layout via .no_exist markers)', async () => {
    const pipelineDir = await downloadDiffusersModel('test-org/tiny-ncsnpp', opts());
    const rootDir = await downloadDiffusersModel('test-org/tiny-root', opts());
    hub.requests.length = 0;
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal(await downloadDiffusersModel('test-org/tiny-ncsnpp', opts()), pipelineDir);
    assert.equal(await downloadDiffusersModel('test-org/tiny-root', { cacheDir }), rootDir);
    assert.equal(hub.requests.length, 0);
    await assert.rejects(downloadDiffusersModel('test-org/bare-unet', { cacheDir }), LocalEntryNotFoundError);
  });

  it('online with the Hub unreachable: fully cached repos load from the cache, .no_exist answers included', async () => {
    const repos = ['test-org/tiny-ncsnpp', 'test-org/tiny-root', 'test-org/bare-unet'];
    const dirs = [];
    for (const repo of repos) dirs.push(await downloadDiffusersModel(repo, opts()));
    // A port nothing listens on: every request fails to connect, as with no network.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const dead = { cacheDir, endpoint: `http://127.0.0.1:${port}`, timeoutMs: 2000 };
    for (const [i, repo] of repos.entries()) assert.equal(await downloadDiffusersModel(repo, dead), dirs[i]);
    // Not cached at all: still the connection error.
    await assert.rejects(
      downloadDiffusersModel('test-org/root-unet-scheduler-dir', dead),
      HubConnectionError,
    );
  });

  it('progress is reported per file', async () => {
    const seen = new Map<string, number>();
    await downloadDiffusersModel('test-org/tiny-ncsnpp', {
      ...opts(),
      onProgress: (p) => seen.set(p.file, p.loaded),
    });
    assert.deepEqual(
      [...seen.entries()].sort(),
      [
        ['model_index.json', TINY.modelIndex.length],
        ['scheduler/scheduler_config.json', TINY.schedulerConfig.length],
        ['unet/config.json', TINY.config.length],
        ['unet/diffusion_pytorch_model.safetensors', TINY.safetensors.length],
      ].sort(),
    );
  });
});
