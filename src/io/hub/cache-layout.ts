/**
 * huggingface_hub's cache layout (`file_download.py`), kept byte-compatible so that files fetched
 * by Python are reused here and vice versa:
 *
 *   <cache>/models--{org}--{name}/blobs/<etag>                  file contents, named by etag
 *   <cache>/models--{org}--{name}/snapshots/<commit>/<path>     relative symlink to the blob
 *   <cache>/models--{org}--{name}/refs/<revision>               the commit hash (no newline)
 *   <cache>/models--{org}--{name}/.no_exist/<commit>/<path>     empty: the file is known to be absent
 *   <cache>/.locks/models--{org}--{name}/<etag>.lock            one downloader per blob
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { writeFileAtomic } from '../atomic.js';

/** A full git commit hash, as the Hub puts in `X-Repo-Commit`. */
export const COMMIT_HASH_RE = /^[0-9a-f]{40}$/;

/** huggingface_hub's `validate_repo_id`: `[org/]name` of word characters, `-` and `.`, no `--`/`..`. */
const REPO_ID_RE = /^(\b[\w\-.]+\b\/)?\b[\w\-.]+\b$/;

/** Throws a TypeError unless `repoId` is a valid Hub repo id (`org/name` or a legacy bare `name`). */
export function validateRepoId(repoId: unknown): asserts repoId is string {
  if (typeof repoId !== 'string' || repoId.length > 96 || !REPO_ID_RE.test(repoId)) {
    throw new TypeError(
      `repoId must be a Hub repo id like "org/name" (letters, digits, '-', '_', '.', at most 96 chars), got ${JSON.stringify(repoId)}`,
    );
  }
  if (repoId.includes('--') || repoId.includes('..')) {
    throw new TypeError(`repoId cannot contain "--" or "..", got ${JSON.stringify(repoId)}`);
  }
}

/** Throws unless `p` is a plain relative path ('/'-separated, no '.', '..' or empty parts). */
export function validateRelativePath(p: unknown, what: string): asserts p is string {
  const ok =
    typeof p === 'string' &&
    p !== '' &&
    !p.includes('\\') &&
    !p.includes('\0') &&
    p.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
  if (!ok) throw new TypeError(`${what} must be a relative path inside the repo, got ${JSON.stringify(p)}`);
}

/**
 * Etags and commit hashes come from the server and become file names: accept only a plain name so
 * a hostile server cannot write outside the cache.
 */
export function validateServerName(value: string, what: string, url: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(value)) {
    throw new TypeError(`${url}: the server sent an unusable ${what} ${JSON.stringify(value)}`);
  }
  return value;
}

/** `models--org--name`: huggingface_hub's `repo_folder_name` for model repos. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** Paths of one repo inside one cache folder. */
export class RepoCache {
  readonly storage: string;
  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
  ) {
    this.storage = join(cacheDir, repoFolderName(repoId));
  }
  blobPath(etag: string): string {
    return join(this.storage, 'blobs', etag);
  }
  snapshotDir(commit: string): string {
    return join(this.storage, 'snapshots', commit);
  }
  pointerPath(commit: string, file: string): string {
    return join(this.snapshotDir(commit), ...file.split('/'));
  }
  noExistPath(commit: string, file: string): string {
    return join(this.storage, '.no_exist', commit, ...file.split('/'));
  }
  lockPath(etag: string): string {
    return join(this.cacheDir, '.locks', repoFolderName(this.repoId), `${etag}.lock`);
  }

  /** The commit a revision points to: the revision itself if it is a commit hash, else `refs/<revision>`. */
  async resolveCachedCommit(revision: string): Promise<string | undefined> {
    if (COMMIT_HASH_RE.test(revision)) return revision;
    try {
      const commit = (await readFile(join(this.storage, 'refs', ...revision.split('/')), 'utf8')).trim();
      return COMMIT_HASH_RE.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  /** Records `refs/<revision>` = commit (skipped when the revision is the commit, as in Python). */
  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    if ((await this.resolveCachedCommit(revision)) === commit) return;
    await writeFileAtomic(join(this.storage, 'refs', ...revision.split('/')), commit);
  }

  /** Marks `file` as absent at `commit` (huggingface_hub reads these in `try_to_load_from_cache`). */
  async markMissing(commit: string, file: string): Promise<void> {
    const p = this.noExistPath(commit, file);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, '');
  }
}

/**
 * Points `pointer` at `blob` with a relative symlink, as huggingface_hub does; where symlinks are not
 * allowed (Windows without developer mode, some network drives) the blob is copied instead. Either
 * way the final path appears atomically (made under a temp name, then renamed over).
 */
export async function linkPointer(blob: string, pointer: string): Promise<void> {
  const dir = dirname(pointer);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(pointer)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    try {
      await symlink(relative(dir, blob), tmp);
    } catch {
      await copyFile(blob, tmp);
    }
    await rename(tmp, pointer);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
