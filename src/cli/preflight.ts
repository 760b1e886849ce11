/**
 * Checks a command makes BEFORE it loads a model or starts long work, so that a bad path fails in a second
 * with a one-line message naming the flag, not after hours of sampling or training.
 *
 * Every command that writes or reads files uses these (sample, inpaint, colorize, train, likelihood,
 * evaluate, interpolate):
 * - `prepareOutputDir(path, 'out')`: creates the output folder and proves it writable (a probe file is
 *   written and removed). Refuses '', an existing non-folder (a file, /dev/null) and places where folders
 *   cannot be made (/proc/…), without Node's recursive mkdir, which loops forever on procfs.
 * - `checkInputFile(path, 'data')`: a readable regular file.
 * - `checkPngInput(path, 'image', { size })`: the same, plus the PNG header's size against a pixel limit
 *   and, once known, the model's size, read from the header alone (a 1 MB PNG may declare 16384×16384).
 * - `removeStaleTempFiles(dir, names)`: deletes what a killed run left of its atomic writes
 *   (`.<name>.<12 hex>.tmp`, see io/atomic.ts).
 * Failures are `CliError`s (exit 1, no stack trace) or, for an empty flag value, `UsageError`s.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CliError, UsageError } from './args.js';

/** Deepest folder chain we create or walk; far more than any real path, and it bounds the loop. */
const MAX_PATH_DEPTH = 256;

/** The probe file prepareOutputDir writes: `.scoresde-probe.<12 hex>.tmp`, the temp-file pattern. */
const PROBE = 'scoresde-probe';

/** The largest PNG input accepted before decoding (RGBA at this size is 256 MiB). */
export const MAX_INPUT_PIXELS = 8192 * 8192;

/** Why a filesystem call failed, in words. */
function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    default:
      return code ?? (e as Error).message;
  }
}

/**
 * Creates output folder `path` (given as `--<flag>`) if needed and proves it writable by writing and removing
 * a probe file. Returns its absolute path.
 */
export async function prepareOutputDir(path: string, flag: string): Promise<string> {
  if (path.trim() === '') throw new UsageError(`--${flag} is empty; give a folder, e.g. --${flag} .`);
  const dir = resolve(path);
  const fail = (what: string): never => {
    throw new CliError(`--${flag} ${path}: ${what}`);
  };
  // Walk up to the nearest existing ancestor; it must be a folder we can write in.
  const missing: string[] = [];
  let existing = dir;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_PATH_DEPTH) fail('the path is too deep');
    try {
      const st = await stat(existing);
      if (!st.isDirectory()) {
        fail(existing === dir ? 'exists and is not a folder' : `${existing} is not a folder`);
      }
      break;
    } catch (e) {
      if (e instanceof CliError) throw e;
      // ENOTDIR: an ancestor is a file; walking up finds it and says so.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') fail(`cannot use ${existing} (${reason(e)})`);
      missing.unshift(existing);
      const parent = dirname(existing);
      if (parent === existing) fail('no part of the path exists');
      existing = parent;
    }
  }
  try {
    await access(existing, constants.W_OK | constants.X_OK);
  } catch (e) {
    fail(`cannot write in ${existing} (${reason(e)})`);
  }
  // One level at a time, so that a filesystem that refuses (procfs, sysfs) fails at once.
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        fail(`cannot create the folder ${d} (${reason(e)})`);
    }
  }
  const probe = join(dir, `.${PROBE}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(probe, 'probe');
  } catch (e) {
    fail(`cannot write in it (${reason(e)})`);
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
  return dir;
}

/** Refuses an input file (`--<flag> path`) that is missing, not a regular file, or unreadable. */
export async function checkInputFile(path: string, flag: string): Promise<void> {
  if (path.trim() === '') throw new UsageError(`--${flag} is empty; give a file`);
  let handle: FileHandle | undefined;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new CliError(`--${flag} ${path}: not a regular file`);
    handle = await open(path, 'r');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`--${flag} ${path}: ${reason(e)}`);
  } finally {
    await handle?.close();
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngLimits {
  /** Most pixels accepted (default MAX_INPUT_PIXELS). */
  maxPixels?: number;
  /** The exact [height, width] required (the model's), when known. */
  size?: readonly [number, number];
}

/**
 * Checks a PNG input from its header only (signature and IHDR: the first 24 bytes), before anything decodes
 * it. Returns its size.
 */
export async function checkPngInput(
  path: string,
  flag: string,
  limits: PngLimits = {},
): Promise<{ width: number; height: number }> {
  await checkInputFile(path, flag);
  const head = new Uint8Array(24);
  const handle = await open(path, 'r');
  let got: number;
  try {
    got = (await handle.read(head, 0, 24, 0)).bytesRead;
  } finally {
    await handle.close();
  }
  const fail = (what: string): never => {
    throw new CliError(`--${flag} ${path}: ${what}`);
  };
  if (got < 24 || !PNG_SIGNATURE.every((b, i) => head[i] === b)) fail('not a PNG file');
  const view = new DataView(head.buffer);
  if (String.fromCharCode(...head.subarray(12, 16)) !== 'IHDR') fail('invalid PNG (no IHDR header)');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const maxPixels = limits.maxPixels ?? MAX_INPUT_PIXELS;
  if (width === 0 || height === 0 || width * height > maxPixels) {
    fail(`the image is ${width}×${height}; at most ${maxPixels} pixels are accepted`);
  }
  if (limits.size !== undefined && (height !== limits.size[0] || width !== limits.size[1])) {
    fail(
      `the image is ${width}×${height}, but the model generates ${limits.size[1]}×${limits.size[0]} images`,
    );
  }
  return { width, height };
}

/** A temp file of io/atomic.ts: `.<target>.<12 hex>.tmp`. */
const TEMP_FILE = /^\.(.+)\.[0-9a-f]{12}\.tmp$/;

/** A temp file older than this is left over from a killed run, whatever its target. */
const STALE_AFTER_MS = 10 * 60 * 1000;

/**
 * Removes what killed runs left of atomic writes in `dir`: the temp files of `targets` (the files this run
 * writes: no other run writes them now) and, for other targets for which `ours` holds, those older than
 * 10 minutes (another shard may be writing one right now). Also old probe files. Returns how many went.
 */
export async function removeStaleTempFiles(
  dir: string,
  targets: ReadonlySet<string>,
  ours: (target: string) => boolean = () => false,
): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  const now = Date.now();
  for (const name of names) {
    const target = TEMP_FILE.exec(name)?.[1];
    if (target === undefined) continue;
    if (!targets.has(target)) {
      if (!ours(target) && target !== PROBE) continue;
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (st === undefined || now - st.mtimeMs < STALE_AFTER_MS) continue;
    }
    await rm(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}
