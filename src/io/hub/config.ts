/**
 * Settings resolved the way huggingface_hub's `constants.py` does, so Python and this package share
 * one cache, one token and one endpoint without extra configuration.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The public Hub; `HF_ENDPOINT` or the `endpoint` option override it (mirrors, local servers). */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

type Env = Record<string, string | undefined>;

/** A non-empty env value, or undefined. */
function envValue(env: Env, name: string): string | undefined {
  const v = env[name];
  return v !== undefined && v !== '' ? v : undefined;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHomeDir(env: Env = process.env): string {
  const home = envValue(env, 'HF_HOME');
  if (home) return resolve(expandHome(home));
  const xdg = envValue(env, 'XDG_CACHE_HOME');
  return resolve(expandHome(join(xdg ?? '~/.cache', 'huggingface')));
}

/**
 * The hub cache folder: `cacheDir` option > `HF_HUB_CACHE` > `HUGGINGFACE_HUB_CACHE` (legacy name)
 * > `HF_HOME/hub` > `~/.cache/huggingface/hub`.
 */
export function resolveHubCacheDir(cacheDir?: string, env: Env = process.env): string {
  if (cacheDir !== undefined) {
    if (typeof cacheDir !== 'string' || cacheDir === '') {
      throw new TypeError(`cacheDir must be a non-empty string, got ${JSON.stringify(cacheDir)}`);
    }
    return resolve(expandHome(cacheDir));
  }
  const fromEnv = envValue(env, 'HF_HUB_CACHE') ?? envValue(env, 'HUGGINGFACE_HUB_CACHE');
  if (fromEnv) return resolve(expandHome(fromEnv));
  return join(hfHomeDir(env), 'hub');
}

/** `endpoint` option > `HF_ENDPOINT` > the public Hub; without trailing slashes. */
export function resolveHubEndpoint(endpoint?: string, env: Env = process.env): string {
  const e = endpoint ?? envValue(env, 'HF_ENDPOINT') ?? DEFAULT_HUB_ENDPOINT;
  let url: URL;
  try {
    url = new URL(e);
  } catch {
    throw new TypeError(`endpoint must be an http(s) URL, got ${JSON.stringify(e)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`endpoint must be an http(s) URL, got ${JSON.stringify(e)}`);
  }
  return e.replace(/\/+$/, '');
}

/**
 * The token to send: `token` option (`false` = send none) > `HF_TOKEN` > `HUGGING_FACE_HUB_TOKEN`
 * (legacy name) > the file `HF_TOKEN_PATH` or `HF_HOME/token` written by `huggingface-cli login`.
 */
export function resolveHubToken(token?: string | false, env: Env = process.env): string | undefined {
  if (token === false) return undefined;
  if (token !== undefined) {
    if (typeof token !== 'string') throw new TypeError('token must be a string or false');
    return token.trim() || undefined;
  }
  const fromEnv = envValue(env, 'HF_TOKEN') ?? envValue(env, 'HUGGING_FACE_HUB_TOKEN');
  if (fromEnv) return fromEnv.trim() || undefined;
  const path = envValue(env, 'HF_TOKEN_PATH') ?? join(hfHomeDir(env), 'token');
  try {
    return readFileSync(expandHome(path), 'utf8').trim() || undefined;
  } catch {
    return undefined; // no login: anonymous access
  }
}

/** huggingface_hub's `_is_true`: 1 / ON / YES / TRUE, any case. */
export function envFlag(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

/** `HF_HUB_OFFLINE=1` forbids every request, like `localFilesOnly`. */
export function isHubOffline(env: Env = process.env): boolean {
  return envFlag(env.HF_HUB_OFFLINE);
}

/** A timeout in ms from an env var given in seconds (huggingface_hub's unit), else `fallbackMs`. */
export function envTimeoutMs(name: string, fallbackMs: number, env: Env = process.env): number {
  const v = envValue(env, name);
  if (v === undefined) return fallbackMs;
  const seconds = Number(v);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`${name} must be a positive number of seconds, got ${JSON.stringify(v)}`);
  }
  return seconds * 1000;
}
