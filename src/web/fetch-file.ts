/**
 * Downloads one model file over HTTP with progress, through the browser's Cache Storage: a file fetched
 * once is read from the cache on the next visit, with no request. Runtime-free apart from fetch/caches.
 */

/** A download (or cache read) in progress. */
export interface FetchProgress {
  /** The file's URL. */
  url: string;
  /** Bytes received so far. */
  loaded: number;
  /** Total bytes when the server says (Content-Length); undefined otherwise. */
  total?: number;
  /** True when the bytes come from Cache Storage (no request was made). */
  fromCache: boolean;
}

export interface FetchFileOptions {
  /** Cache Storage cache name; false disables caching. Default 'scoresde-models-v1'. */
  cache?: string | false;
  onProgress?: (p: FetchProgress) => void;
  signal?: AbortSignal;
  /** Extra request headers (e.g. an Authorization token for a private Hub repo). */
  headers?: Record<string, string>;
  /** Throws when downloaded bytes are not what was expected; such bytes are not cached. */
  validate?: (bytes: Uint8Array) => void;
}

export const DEFAULT_CACHE_NAME = 'scoresde-models-v1';

/** A model file could not be fetched or read; the message names the URL and what went wrong. */
export class ModelFetchError extends Error {
  override name = 'ModelFetchError';
  constructor(
    readonly url: string,
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
  ) {
    super(`${url}: ${message}`);
  }
}

interface CacheLike {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
}

/** The named cache, or null where Cache Storage is missing (insecure origin, Node) or refused. */
async function openCache(name: string | false): Promise<CacheLike | null> {
  const storage = (globalThis as { caches?: { open(n: string): Promise<CacheLike> } }).caches;
  if (name === false || !storage) return null;
  try {
    return await storage.open(name);
  } catch {
    return null;
  }
}

/** Reads a response body chunk by chunk, reporting progress. */
async function readBody(
  url: string,
  response: Response,
  fromCache: boolean,
  onProgress: FetchFileOptions['onProgress'],
): Promise<Uint8Array> {
  const header = response.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ url, loaded: bytes.length, total: bytes.length, fromCache });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ url, loaded, total, fromCache });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ url, loaded, total, fromCache });
  }
  if (total !== undefined && loaded !== total)
    throw new ModelFetchError(url, `download ended after ${loaded} of ${total} bytes (connection dropped?)`);
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Whether the file is in the cache (so loading it makes no request). */
export async function isCached(
  url: string,
  cacheName: string | false = DEFAULT_CACHE_NAME,
): Promise<boolean> {
  const cache = await openCache(cacheName);
  return (await cache?.match(url)) !== undefined;
}

/**
 * The bytes at `url`: from Cache Storage when there, else downloaded (with progress) and then cached.
 * Returns null for a 404 when `optional` (a file a model may lack, e.g. scheduler_config.json).
 */
export async function fetchModelFile(
  url: string,
  options: FetchFileOptions & { optional: true },
): Promise<Uint8Array | null>;
export async function fetchModelFile(url: string, options?: FetchFileOptions): Promise<Uint8Array>;
export async function fetchModelFile(
  url: string,
  options: FetchFileOptions & { optional?: boolean } = {},
): Promise<Uint8Array | null> {
  const cache = await openCache(options.cache ?? DEFAULT_CACHE_NAME);
  const hit = await cache?.match(url);
  if (hit?.status === 404 && options.optional) return null;
  if (hit?.ok) return readBody(url, hit, true, options.onProgress);
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal, headers: options.headers });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ModelFetchError(
      url,
      `could not be fetched (${(e as Error).message}); check the URL and that the server is reachable and allows this origin (CORS)`,
    );
  }
  if (response.status === 404 && options.optional) {
    // Remember the absence too, so a cached model loads with no request at all.
    await cache?.put(url, new Response(null, { status: 404 })).catch(() => undefined);
    return null;
  }
  if (!response.ok) {
    const hint =
      response.status === 404
        ? ' (no such file: is the model URL or repo id right?)'
        : response.status === 401 || response.status === 403
          ? ' (the model is private or gated: pass a token)'
          : '';
    throw new ModelFetchError(
      url,
      `HTTP ${response.status} ${response.statusText}`.trim() + hint,
      response.status,
    );
  }
  const bytes = await readBody(url, response, false, options.onProgress);
  options.validate?.(bytes);
  try {
    await cache?.put(
      url,
      new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(bytes.length) } }),
    );
  } catch {
    // A full or refused cache only costs the next visit a download.
  }
  return bytes;
}

/** Deletes the model cache (the next load downloads again). */
export async function clearModelCache(cacheName = DEFAULT_CACHE_NAME): Promise<boolean> {
  const storage = (globalThis as { caches?: { delete(n: string): Promise<boolean> } }).caches;
  return storage ? storage.delete(cacheName) : false;
}
