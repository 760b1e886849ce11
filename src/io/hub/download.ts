/** `hfHubDownload`: huggingface_hub's `hf_hub_download`, sharing its cache. */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  COMMIT_HASH_RE,
  linkPointer,
  RepoCache,
  validateRelativePath,
  validateRepoId,
} from './cache-layout.js';
import {
  envTimeoutMs,
  isHubOffline,
  resolveHubCacheDir,
  resolveHubEndpoint,
  resolveHubToken,
} from './config.js';
import {
  EntryNotFoundError,
  HubConnectionError,
  HubError,
  LocalEntryNotFoundError,
  RevisionNotFoundError,
} from './errors.js';
import { downloadBlob } from './fetch-blob.js';
import {
  fetchFileMetadata,
  type HubFileMetadata,
  type HubRequestContext,
  hubFileUrl,
  hubHeaders,
  NetworkFailure,
} from './http.js';
import { withFileLock } from './lock.js';

/** Reported while a file downloads (not for files already in the cache). */
export interface HubDownloadProgress {
  repoId: string;
  /** Path of the file inside the repo. */
  file: string;
  /** Bytes on disk so far (a resumed download starts above 0). */
  loaded: number;
  total: number;
}

export interface HfHubDownloadOptions {
  /** Branch, tag or commit hash (diffusers/hf_hub: `revision`). Default `'main'`. */
  revision?: string;
  /** Folder inside the repo (hf_hub: `subfolder`). */
  subfolder?: string;
  /** Cache folder (hf_hub: `cache_dir`). Default `HF_HUB_CACHE`, `HF_HOME/hub`, `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Use the cache only, never the network (hf_hub: `local_files_only`; also `HF_HUB_OFFLINE=1`). */
  localFilesOnly?: boolean;
  /** Access token (hf_hub: `token`); `false` sends none. Default `HF_TOKEN`, then `HF_HOME/token`. */
  token?: string | false;
  /** Hub URL (hf_hub: `endpoint`). Default `HF_ENDPOINT`, then the public Hub. */
  endpoint?: string;
  /** Download again even if cached (hf_hub: `force_download`). */
  forceDownload?: boolean;
  /** No answer, or no data while streaming, for this long is a network failure (hf_hub: `etag_timeout`). Default `HF_HUB_DOWNLOAD_TIMEOUT` s or 10 s. */
  timeoutMs?: number;
  /** Retries of a download cut mid-way, each resuming where the last stopped. Default 5. */
  maxRetries?: number;
  onProgress?: (progress: HubDownloadProgress) => void;
  signal?: AbortSignal;
}

/** A file in the cache and the commit it was taken from. */
export interface HubFileLocation {
  path: string;
  commitHash: string;
}

/** Returns `file` from the cache for `revision`, if there. */
async function fromCache(
  cache: RepoCache,
  revision: string,
  file: string,
): Promise<HubFileLocation | undefined> {
  const commitHash = await cache.resolveCachedCommit(revision);
  if (commitHash === undefined) return undefined;
  const path = cache.pointerPath(commitHash, file);
  return existsSync(path) ? { path, commitHash } : undefined;
}

/**
 * What the cache knows about `file` at `revision`: the file, or (from a `.no_exist` marker) an EntryNotFoundError
 * thrown, or undefined when it knows nothing.
 */
async function cachedAnswer(
  cache: RepoCache,
  revision: string,
  file: string,
): Promise<HubFileLocation | undefined> {
  const hit = await fromCache(cache, revision, file);
  if (hit) return hit;
  const commit = await cache.resolveCachedCommit(revision);
  if (commit !== undefined && existsSync(cache.noExistPath(commit, file))) {
    const where = `Hub repository "${cache.repoId}" (revision "${revision}")`;
    const err = new EntryNotFoundError(
      `File "${file}" does not exist in ${where}, as cached earlier.`,
      404,
      '',
    );
    err.commitHash = commit;
    throw err;
  }
  return undefined;
}

async function offlineLookup(cache: RepoCache, revision: string, file: string): Promise<HubFileLocation> {
  const hit = await cachedAnswer(cache, revision, file);
  if (hit) return hit;
  throw new LocalEntryNotFoundError(
    `File "${file}" of Hub repository "${cache.repoId}" (revision "${revision}") is not in the cache ${cache.cacheDir}, and downloads are disabled (localFilesOnly or HF_HUB_OFFLINE). Download it once while online.`,
  );
}

function checkOptions(repoId: unknown, filename: unknown, o: HfHubDownloadOptions): asserts repoId is string {
  validateRepoId(repoId);
  validateRelativePath(filename, 'filename');
  if (o.subfolder !== undefined && o.subfolder !== '') validateRelativePath(o.subfolder, 'subfolder');
  if (o.revision !== undefined) validateRelativePath(o.revision, 'revision');
  if (o.timeoutMs !== undefined && !(o.timeoutMs > 0))
    throw new RangeError(`timeoutMs must be > 0, got ${o.timeoutMs}`);
  if (o.maxRetries !== undefined && !(Number.isInteger(o.maxRetries) && o.maxRetries >= 0)) {
    throw new RangeError(`maxRetries must be an integer >= 0, got ${o.maxRetries}`);
  }
}

/** Like `hfHubDownload`, also returning the commit the file belongs to. */
export async function hubDownloadFile(
  repoId: string,
  filename: string,
  options: HfHubDownloadOptions = {},
): Promise<HubFileLocation> {
  checkOptions(repoId, filename, options);
  const revision = options.revision ?? 'main';
  const file = options.subfolder ? `${options.subfolder}/${filename}` : filename;
  const cache = new RepoCache(resolveHubCacheDir(options.cacheDir), repoId);
  if (options.localFilesOnly || isHubOffline()) return offlineLookup(cache, revision, file);
  if (!options.forceDownload && COMMIT_HASH_RE.test(revision)) {
    const hit = await fromCache(cache, revision, file); // a commit never changes: no request needed
    if (hit) return hit;
  }

  const endpoint = resolveHubEndpoint(options.endpoint);
  const ctx: HubRequestContext = {
    repoId,
    revision,
    file,
    token: resolveHubToken(options.token),
    timeoutMs: options.timeoutMs ?? envTimeoutMs('HF_HUB_ETAG_TIMEOUT', 10_000),
    signal: options.signal,
  };
  const url = hubFileUrl(endpoint, repoId, revision, file);
  const meta = await headOrCached(cache, url, endpoint, ctx, options);
  if (!('etag' in meta)) return meta;

  const { commitHash, etag } = meta;
  const pointer = cache.pointerPath(commitHash, file);
  const blob = cache.blobPath(etag);
  await cache.writeRef(revision, commitHash);
  if (!options.forceDownload && existsSync(pointer)) return { path: pointer, commitHash };
  if (options.forceDownload || !existsSync(blob))
    await downloadToBlob(blob, cache.lockPath(etag), meta, url, endpoint, ctx, options);
  await linkPointer(blob, pointer);
  return { path: pointer, commitHash };
}

/**
 * The file's metadata from the Hub (HEAD), recording a 404 as `.no_exist`; when the Hub cannot be reached or
 * refuses, what the cache knows instead (as huggingface_hub falls back to it).
 */
async function headOrCached(
  cache: RepoCache,
  url: string,
  endpoint: string,
  ctx: HubRequestContext,
  options: HfHubDownloadOptions,
): Promise<HubFileMetadata | HubFileLocation> {
  const { revision, file, repoId } = ctx;
  try {
    return await fetchFileMetadata(url, ctx);
  } catch (e) {
    if (e instanceof EntryNotFoundError) {
      if (e.commitHash && COMMIT_HASH_RE.test(e.commitHash)) {
        await cache.markMissing(e.commitHash, file);
        await cache.writeRef(revision, e.commitHash);
      }
      throw e;
    }
    if (e instanceof RevisionNotFoundError || !(e instanceof HubError || e instanceof NetworkFailure))
      throw e;
    // Hub unreachable, refusing or misconfigured: like huggingface_hub, answer from the cache if it can,
    // a file recorded as missing (.no_exist) included.
    const hit = options.forceDownload ? undefined : await cachedAnswer(cache, revision, file);
    if (hit) return hit;
    if (e instanceof NetworkFailure) {
      throw new HubConnectionError(
        `Could not reach the Hub at ${endpoint} for "${file}" of "${repoId}": ${e.message}. The file is not in the cache ${cache.cacheDir} either. Check the connection and HF_ENDPOINT; files cached while online can later be used with localFilesOnly or HF_HUB_OFFLINE=1.`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** Downloads the file's bytes into `blob` under the blob's lock, resuming a partial download. */
async function downloadToBlob(
  blob: string,
  lockPath: string,
  meta: HubFileMetadata,
  url: string,
  endpoint: string,
  ctx: HubRequestContext,
  options: HfHubDownloadOptions,
): Promise<void> {
  const { repoId, file } = ctx;
  await mkdir(dirname(blob), { recursive: true });
  // A CDN URL is pre-signed: the token goes only to the Hub's own host (as in huggingface_hub).
  const sameHost = new URL(meta.location).host === new URL(url).host;
  // Unredirected files are fetched by commit, so a push between HEAD and GET cannot mix versions.
  const source = meta.location === url ? hubFileUrl(endpoint, repoId, meta.commitHash, file) : meta.location;
  const getCtx = {
    ...ctx,
    timeoutMs: options.timeoutMs ?? envTimeoutMs('HF_HUB_DOWNLOAD_TIMEOUT', 10_000),
  };
  await withFileLock(
    lockPath,
    async () => {
      if (existsSync(blob) && !options.forceDownload) return; // another process finished it meanwhile
      if (options.forceDownload) await rm(`${blob}.incomplete`, { force: true });
      await downloadBlob(
        {
          url: source,
          headers: hubHeaders(sameHost ? ctx.token : undefined),
          etag: meta.etag,
          expectedSize: meta.size,
          blobPath: blob,
          maxRetries: options.maxRetries ?? 5,
          onProgress: options.onProgress
            ? (loaded, total) => options.onProgress?.({ repoId, file, loaded, total })
            : undefined,
        },
        getCtx,
      ).catch((e: unknown) => {
        if (e instanceof NetworkFailure) {
          throw new HubConnectionError(
            `Downloading "${file}" of "${repoId}" failed: ${e.message}. The bytes received are kept; call again to resume.`,
            { cause: e },
          );
        }
        throw e;
      });
    },
    { signal: options.signal },
  );
}

/**
 * Downloads one file of a Hub model repo (or finds it in the cache) and returns its local path,
 * `<cache>/models--org--name/snapshots/<commit>/<file>`, exactly where huggingface_hub puts it.
 */
export async function hfHubDownload(
  repoId: string,
  filename: string,
  options: HfHubDownloadOptions = {},
): Promise<string> {
  return (await hubDownloadFile(repoId, filename, options)).path;
}
