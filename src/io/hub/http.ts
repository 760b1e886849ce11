/**
 * The Hub's HTTP protocol as huggingface_hub speaks it (`file_download.get_hf_file_metadata`,
 * `utils._errors.hf_raise_for_status`), on Node's global fetch.
 */

import { validateServerName } from './cache-layout.js';
import {
  EntryNotFoundError,
  GatedRepoError,
  HubError,
  HubHttpError,
  RepositoryNotFoundError,
  RevisionNotFoundError,
} from './errors.js';

/** What a request needs besides its URL. */
export interface HubRequestContext {
  repoId: string;
  revision: string;
  /** Path of the file inside the repo (for messages). */
  file: string;
  token?: string;
  /** No answer (or, while streaming, no bytes) for this long counts as a network failure. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The request could not be made or was cut off (refused, DNS, reset, timeout). Retryable. */
export class NetworkFailure extends Error {
  override name = 'NetworkFailure';
  constructor(
    readonly url: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason} (${new URL(url).origin})`, options);
  }
}

/** What the Hub says about one file (the answer to HEAD on its resolve URL). */
export interface HubFileMetadata {
  commitHash: string;
  /** Content hash: sha256 for LFS files, git blob sha1 otherwise; the blob's name in the cache. */
  etag: string;
  size: number;
  /** Where to GET the content: the resolve URL, a renamed repo's URL, or a CDN URL. */
  location: string;
}

/** `{endpoint}/{repo}/resolve/{revision}/{file}`, escaped like huggingface_hub's `hf_hub_url`. */
export function hubFileUrl(endpoint: string, repoId: string, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${path}`;
}

export const USER_AGENT = `scoresde; node/${process.versions.node}`;

/** Headers sent to the Hub; `Accept-Encoding: identity` keeps Content-Length equal to the file size. */
export function hubHeaders(token: string | undefined): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

/** Explains a fetch rejection in words (undici hides the errno under `cause`). */
export function describeFetchError(e: unknown): string {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  const parts: string[] = [];
  while (cur instanceof Error && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${cur.message} [${code}]` : cur.message);
    cur = (cur as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(e);
}

/** An AbortSignal firing on the caller's abort or after `ms` without `touch()`. */
export class IdleTimeout {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal;
  timedOut = false;
  constructor(
    private readonly ms: number,
    outer?: AbortSignal,
  ) {
    this.signal = outer ? AbortSignal.any([outer, this.controller.signal]) : this.controller.signal;
    this.touch();
  }
  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`no answer within ${this.ms / 1000} s`));
    }, this.ms);
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

/** fetch with the context's timeout and abort; network-level failures become NetworkFailure. */
export async function hubFetch(
  url: string,
  init: RequestInit,
  ctx: HubRequestContext,
  idle: IdleTimeout,
): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: idle.signal });
  } catch (e) {
    if (ctx.signal?.aborted) throw ctx.signal.reason;
    if (idle.timedOut)
      throw new NetworkFailure(url, `no answer within ${ctx.timeoutMs / 1000} s`, { cause: e });
    throw new NetworkFailure(url, describeFetchError(e), { cause: e });
  }
}

/** Etag header value without `W/` and quotes (huggingface_hub's `_normalize_etag`). */
export function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

/** A Location header with no scheme or host: a redirect inside the Hub (renamed repo). */
function isRelativeLocation(location: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(location) && !location.startsWith('//');
}

/** Maps an error answer to the typed error huggingface_hub would raise. */
export function hubErrorFromResponse(res: Response, url: string, ctx: HubRequestContext): HubHttpError {
  const code = res.headers.get('x-error-code') ?? undefined;
  const serverMessage = res.headers.get('x-error-message');
  const detail = `(HTTP ${res.status}${code ? `, ${code}` : ''}${serverMessage ? `: ${serverMessage}` : ''})`;
  const repo = JSON.stringify(ctx.repoId);
  const authHint = ctx.token
    ? 'the token that was sent is not allowed to read it'
    : 'pass a token (option `token`, HF_TOKEN, or `huggingface-cli login`)';
  if (code === 'RevisionNotFound') {
    return new RevisionNotFoundError(
      `Revision ${JSON.stringify(ctx.revision)} was not found in Hub repository ${repo} ${detail}.`,
      res.status,
      url,
      code,
    );
  }
  if (code === 'EntryNotFound') {
    const err = new EntryNotFoundError(
      `File ${JSON.stringify(ctx.file)} was not found in Hub repository ${repo} at revision ${JSON.stringify(ctx.revision)} ${detail}.`,
      res.status,
      url,
      code,
    );
    err.commitHash = res.headers.get('x-repo-commit') ?? undefined;
    return err;
  }
  if (code === 'GatedRepo') {
    return new GatedRepoError(
      `Hub repository ${repo} is gated ${detail}: accept its conditions on the repo page, then ${ctx.token ? 'use a token of that account' : authHint}.`,
      res.status,
      url,
      code,
    );
  }
  if (code === 'RepoNotFound' || res.status === 401) {
    return new RepositoryNotFoundError(
      `Hub repository ${repo} was not found ${detail}. Check the repo id; if the repo is private or gated, ${authHint}.`,
      res.status,
      url,
      code,
    );
  }
  if (res.status === 403) {
    return new HubHttpError(`Access to ${url} was refused ${detail}: ${authHint}.`, res.status, url, code);
  }
  return new HubHttpError(`The Hub answered ${url} with an error ${detail}.`, res.status, url, code);
}

/**
 * HEAD on the resolve URL without following redirects: the Hub puts the metadata on the first
 * answer, and a redirect to a CDN must not be asked. Relative redirects (a renamed repo) are followed.
 */
export async function fetchFileMetadata(url: string, ctx: HubRequestContext): Promise<HubFileMetadata> {
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    const idle = new IdleTimeout(ctx.timeoutMs, ctx.signal);
    let res: Response;
    try {
      res = await hubFetch(
        current,
        { method: 'HEAD', headers: hubHeaders(ctx.token), redirect: 'manual' },
        ctx,
        idle,
      );
    } finally {
      idle.clear();
    }
    let location = current;
    if (res.status >= 300 && res.status <= 399) {
      const target = res.headers.get('location');
      if (!target)
        throw new HubHttpError(
          `${current}: redirect (HTTP ${res.status}) without a Location`,
          res.status,
          current,
        );
      if (isRelativeLocation(target)) {
        current = new URL(target, current).href;
        continue;
      }
      location = target;
    } else if (!res.ok) {
      throw hubErrorFromResponse(res, current, ctx);
    }
    return parseMetadata(res, current, location);
  }
  throw new HubHttpError(`${url}: more than 10 redirects`, 310, url);
}

function parseMetadata(res: Response, url: string, location: string): HubFileMetadata {
  const h = res.headers;
  const commit = h.get('x-repo-commit');
  if (!commit) {
    throw new HubError(
      `${url}: the answer has no X-Repo-Commit header, so it does not come from a Hub server; check the endpoint (HF_ENDPOINT) and any proxy or firewall.`,
    );
  }
  const etag = normalizeEtag(h.get('x-linked-etag') ?? h.get('etag'));
  if (!etag)
    throw new HubError(`${url}: the answer has no ETag, so the download could not be verified or cached.`);
  const sizeText = h.get('x-linked-size') ?? h.get('content-length');
  const size = sizeText === null ? Number.NaN : Number(sizeText);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new HubError(
      `${url}: the answer has no valid file size (X-Linked-Size / Content-Length: ${sizeText}).`,
    );
  }
  try {
    validateServerName(commit, 'commit hash', url);
    validateServerName(etag, 'ETag', url);
  } catch (e) {
    throw new HubError((e as Error).message);
  }
  return { commitHash: commit, etag, size, location };
}
