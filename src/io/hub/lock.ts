/**
 * A cross-process lock file made with O_EXCL, so two processes never write the same blob at once.
 * The holder refreshes the file's mtime; a lock whose owner process is gone (same host) or that has
 * not been refreshed for `staleMs` is broken, so a crashed download never blocks the cache forever.
 */

import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileLockOptions {
  signal?: AbortSignal;
  /** A lock not refreshed for this long is considered abandoned (default 60 s). */
  staleMs?: number;
  /** How often a waiter looks again (default 100 ms). */
  pollMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(lockPath)).mtimeMs;
  } catch {
    return false; // already gone: just try again
  }
  if (Date.now() - mtimeMs > staleMs) return true;
  try {
    const owner = JSON.parse(await readFile(lockPath, 'utf8')) as LockOwner;
    return owner.host === hostname() && Number.isInteger(owner.pid) && !isProcessAlive(owner.pid);
  } catch {
    return false; // being written right now, or not ours to judge: wait for staleMs
  }
}

/** Runs `fn` while holding `lockPath`; waits (abortably) while another holder has it. */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 60_000;
  const pollMs = options.pollMs ?? 100;
  await mkdir(dirname(lockPath), { recursive: true });
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const fh = await open(lockPath, 'wx');
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname() } satisfies LockOwner));
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (await isStale(lockPath, staleMs)) {
      // Move it aside first: of several waiters that all saw it stale, only one rename succeeds.
      const aside = `${lockPath}.${randomBytes(6).toString('hex')}.stale`;
      await rename(lockPath, aside).then(
        () => rm(aside, { force: true }),
        () => undefined,
      );
      continue;
    }
    await sleep(pollMs, undefined, { signal: options.signal }).catch((e: unknown) => {
      throw options.signal?.aborted ? options.signal.reason : e; // the caller's reason, as fetch does
    });
  }
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(lockPath, now, now).catch(() => undefined);
    },
    Math.max(10, staleMs / 4),
  );
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await rm(lockPath, { force: true });
  }
}
