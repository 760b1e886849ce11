/** Where the Hub client looks for its cache, endpoint, token and offline flag; repo id recognition. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import {
  DEFAULT_HUB_ENDPOINT,
  isHubOffline,
  isHubRepoId,
  repoFolderName,
  resolveHubCacheDir,
  resolveHubEndpoint,
  resolveHubToken,
} from '../../src/io/hub.js';
import { isolateHubEnv } from './hub-fake-server.js';

beforeEach(isolateHubEnv);

describe('hub settings precedence (as huggingface_hub constants.py)', () => {
  it('cache dir: option > HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME/hub > XDG_CACHE_HOME > ~/.cache', () => {
    const env: Record<string, string> = {};
    assert.equal(resolveHubCacheDir(undefined, env), join(homedir(), '.cache', 'huggingface', 'hub'));
    env.XDG_CACHE_HOME = '/x/cache';
    assert.equal(resolveHubCacheDir(undefined, env), '/x/cache/huggingface/hub');
    env.HF_HOME = '/h/home';
    assert.equal(resolveHubCacheDir(undefined, env), '/h/home/hub');
    env.HUGGINGFACE_HUB_CACHE = '/legacy';
    assert.equal(resolveHubCacheDir(undefined, env), '/legacy');
    env.HF_HUB_CACHE = '~/hubcache';
    assert.equal(resolveHubCacheDir(undefined, env), join(homedir(), 'hubcache'));
    assert.equal(resolveHubCacheDir('/opt/c', env), '/opt/c');
    assert.throws(() => resolveHubCacheDir('', env), TypeError);
  });

  it('process.env is the default source', () => {
    process.env.HF_HOME = '/from/env';
    assert.equal(resolveHubCacheDir(), '/from/env/hub');
  });

  it('endpoint: option > HF_ENDPOINT > public Hub, trailing slash dropped', () => {
    assert.equal(resolveHubEndpoint(undefined, {}), DEFAULT_HUB_ENDPOINT);
    assert.equal(resolveHubEndpoint(undefined, { HF_ENDPOINT: 'http://127.0.0.1:9/' }), 'http://127.0.0.1:9');
    assert.equal(
      resolveHubEndpoint('http://127.0.0.1:8', { HF_ENDPOINT: 'http://127.0.0.1:9' }),
      'http://127.0.0.1:8',
    );
    assert.throws(() => resolveHubEndpoint('not a url', {}), /endpoint must be an http\(s\) URL/);
  });

  it('token: option > HF_TOKEN > HUGGING_FACE_HUB_TOKEN > HF_TOKEN_PATH / HF_HOME/token; false sends none', () => {
    const home = mkdtempSync(join(tmpdir(), 'hf-home-'));
    const env: Record<string, string> = { HF_HOME: home };
    assert.equal(resolveHubToken(undefined, env), undefined);
    writeFileSync(join(home, 'token'), 'hf_file\n');
    assert.equal(resolveHubToken(undefined, env), 'hf_file');
    mkdirSync(join(home, 'alt'));
    writeFileSync(join(home, 'alt', 'tok'), 'hf_path');
    env.HF_TOKEN_PATH = join(home, 'alt', 'tok');
    assert.equal(resolveHubToken(undefined, env), 'hf_path');
    env.HUGGING_FACE_HUB_TOKEN = 'hf_legacy';
    assert.equal(resolveHubToken(undefined, env), 'hf_legacy');
    env.HF_TOKEN = ' hf_env ';
    assert.equal(resolveHubToken(undefined, env), 'hf_env');
    assert.equal(resolveHubToken('hf_opt', env), 'hf_opt');
    assert.equal(resolveHubToken(false, env), undefined);
  });

  it('HF_HUB_OFFLINE accepts 1/ON/YES/TRUE in any case', () => {
    for (const v of ['1', 'on', 'YES', 'True']) assert.equal(isHubOffline({ HF_HUB_OFFLINE: v }), true, v);
    for (const v of [undefined, '', '0', 'false', 'no'])
      assert.equal(isHubOffline({ HF_HUB_OFFLINE: v }), false, v);
  });
});

describe('repo ids', () => {
  it('cache folder name is models--org--name', () => {
    assert.equal(repoFolderName('google/ncsnpp-celebahq-256'), 'models--google--ncsnpp-celebahq-256');
  });

  it('isHubRepoId: org/name, not a local path', () => {
    assert.equal(isHubRepoId('google/ncsnpp-celebahq-256'), true);
    assert.equal(isHubRepoId('fusing/ncsnpp-ffhq-ve-dummy-update'), true);
    for (const s of ['gpt2', 'a/b/c', './x/y', '/abs/path', 'org/na me', 'org--x/y', 'org/..', '', 'org/']) {
      assert.equal(isHubRepoId(s), false, s);
    }
    const dir = mkdtempSync(join(tmpdir(), 'repo-like-'));
    mkdirSync(join(dir, 'org', 'name'), { recursive: true });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      assert.equal(isHubRepoId('org/name'), false); // an existing folder wins
      assert.equal(isHubRepoId('org/other'), true);
    } finally {
      process.chdir(cwd);
    }
  });
});
