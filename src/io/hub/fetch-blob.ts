/**
 * Streams one blob to `<blob>.incomplete`, resuming with `Range` after a cut, verifies size (and
 * sha256 for LFS etags) and only then renames it to its final name: the final path never holds a
 * partial or wrong file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileFormatError } from '../../errors.js';
import {
  describeFetchError,
  type HubRequestContext,
  hubErrorFromResponse,
  hubFetch,
  IdleTimeout,
  NetworkFailure,
} from './http.js';

/** LFS files are named by their sha256; git files by a sha1 of the git blob, which we do not check. */
const SHA256_RE = /^[0-9a-f]{64}$/;

export interface BlobDownload {
  url: string;
  headers: Record<string, string>;
  etag: string;
  expectedSize: number;
  blobPath: string;
  /** Network retries after a failure mid-way (each resumes where the last stopped). */
  maxRetries: number;
  onProgress?: (loaded: number, total: number) => void;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** `bytes start-end/total` → start, or undefined. */
function contentRangeStart(header: string | null): number | undefined {
  const m = header === null ? null : /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * One request: appends to (or restarts) the .incomplete file until the body ends. The resume, range and
 * stall handling belong to one response, so they stay in one body.
 */
async function fetchOnce(d: BlobDownload, ctx: HubRequestContext, tmp: string, label: string): Promise<void> {
  let offset = await sizeOf(tmp);
  if (offset > d.expectedSize) {
    await rm(tmp, { force: true });
    offset = 0;
  }
  if (offset === d.expectedSize) return; // a previous run got every byte; verification follows
  const headers = { ...d.headers };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const idle = new IdleTimeout(ctx.timeoutMs, ctx.signal);
  try {
    const res = await hubFetch(d.url, { method: 'GET', headers, redirect: 'follow' }, ctx, idle);
    if (res.status === 416 && offset > 0) {
      // The server will not serve our range (e.g. the blob changed): start over.
      await res.body?.cancel();
      await rm(tmp, { force: true });
      return fetchOnce(d, ctx, tmp, label);
    }
    if (!res.ok) throw hubErrorFromResponse(res, d.url, ctx);
    if (res.status === 206 ? contentRangeStart(res.headers.get('content-range')) !== offset : offset > 0) {
      offset = 0; // Range ignored (200) or answered for another offset: the body is the whole file
    }
    const lengthText = res.headers.get('content-length');
    if (lengthText !== null && offset + Number(lengthText) !== d.expectedSize) {
      await res.body?.cancel();
      await rm(tmp, { force: true });
      throw new FileFormatError(
        label,
        `the server announced ${d.expectedSize} bytes but sends ${offset + Number(lengthText)}; nothing was cached`,
      );
    }
    const fh = await open(tmp, offset > 0 ? 'a' : 'w');
    let loaded = offset;
    d.onProgress?.(loaded, d.expectedSize);
    try {
      if (!res.body) throw new NetworkFailure(d.url, 'the answer has no body');
      const reader = res.body.getReader();
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (ctx.signal?.aborted) throw ctx.signal.reason;
          const why = idle.timedOut ? `no data for ${ctx.timeoutMs / 1000} s` : describeFetchError(e);
          throw new NetworkFailure(
            d.url,
            `download cut off after ${loaded} of ${d.expectedSize} bytes: ${why}`,
            {
              cause: e,
            },
          );
        }
        if (chunk.done) break;
        idle.touch();
        if (loaded + chunk.value.byteLength > d.expectedSize) {
          await reader.cancel();
          throw new FileFormatError(
            label,
            `the server sends more than the announced ${d.expectedSize} bytes`,
          );
        }
        await fh.write(chunk.value);
        loaded += chunk.value.byteLength;
        d.onProgress?.(loaded, d.expectedSize);
      }
    } finally {
      await fh.close();
    }
    if (loaded !== d.expectedSize) {
      throw new FileFormatError(
        label,
        `the server ended the file after ${loaded} of ${d.expectedSize} bytes`,
      );
    }
  } finally {
    idle.clear();
  }
}

/** Downloads `d` into `d.blobPath`, retrying network failures; throws FileFormatError on bad content. */
export async function downloadBlob(d: BlobDownload, ctx: HubRequestContext): Promise<void> {
  const tmp = `${d.blobPath}.incomplete`;
  const label = `${ctx.repoId}/${ctx.file}`;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await fetchOnce(d, ctx, tmp, label);
        break;
      } catch (e) {
        if (!(e instanceof NetworkFailure) || attempt >= d.maxRetries || ctx.signal?.aborted) throw e;
        await sleep(Math.min(2000, 100 * 2 ** attempt), undefined, { signal: ctx.signal }).catch(
          (err: unknown) => {
            throw ctx.signal?.aborted ? ctx.signal.reason : err;
          },
        );
      }
    }
    const size = await sizeOf(tmp);
    if (size !== d.expectedSize) {
      throw new FileFormatError(
        label,
        `downloaded ${size} bytes, expected ${d.expectedSize}; nothing was cached`,
      );
    }
    if (SHA256_RE.test(d.etag)) {
      const actual = await sha256File(tmp);
      if (actual !== d.etag) {
        throw new FileFormatError(
          label,
          `sha256 ${actual} does not match the Hub's ${d.etag}; nothing was cached`,
        );
      }
    }
    await rename(tmp, d.blobPath);
  } catch (e) {
    // Keep the partial file only where a later call can resume it: after a network cut or an abort.
    if (e instanceof FileFormatError) await rm(tmp, { force: true });
    throw e;
  }
}
