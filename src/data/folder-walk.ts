/**
 * Listing a data folder recursively without leaving it: a symbolic link is followed only when its target
 * lies inside the folder (a link to `/` or `..` is skipped), each real folder is visited once (no loops),
 * and entries that are neither regular files nor folders (FIFOs, sockets, devices, dangling links) are
 * counted and reported instead of opened. Names are read as raw bytes, so a file whose name is not UTF-8 is
 * still found and opened (its path stays a Buffer).
 */
import type { Dirent, Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { FileFormatError } from '../errors.js';

/** A path for I/O: a string, or raw bytes when some segment is not valid UTF-8. */
export type FsPath = string | Buffer;

export interface FolderEntry {
  /** Segments under the root as text (invalid UTF-8 shown as U+FFFD): for sorting, labels and messages. */
  segments: string[];
  /** The path to open. */
  path: FsPath;
}

export interface FolderListing {
  /** Regular files whose name ends in one of the wanted extensions, in code-unit order of their segments. */
  files: FolderEntry[];
  /** Other regular files (relative names), for the message when no file is wanted. */
  others: string[];
  /** Entries not read, with why: specials, dangling links, links leading outside the folder. */
  skipped: { name: string; why: string }[];
}

/** Hidden names (`.DS_Store`, `.git`) are not part of a dataset. */
const isHidden = (name: Buffer) => name[0] === 0x2e;

/** The name as text, and whether that text names the same bytes. */
function decodeName(name: Buffer): { text: string; exact: boolean } {
  const text = name.toString('utf8');
  return { text, exact: Buffer.from(text, 'utf8').equals(name) };
}

const joinPath = (dir: FsPath, name: Buffer, exact: boolean, text: string): FsPath =>
  typeof dir === 'string' && exact
    ? `${dir}${dir.endsWith(sep) ? '' : sep}${text}`
    : Buffer.concat([Buffer.from(dir), Buffer.from(sep), name]);

/** Code-unit order of path segments (ties between lossy names broken by their bytes): the same everywhere. */
function compareEntries(a: FolderEntry, b: FolderEntry): number {
  for (let i = 0; i < Math.min(a.segments.length, b.segments.length); i++) {
    if (a.segments[i] !== b.segments[i]) return a.segments[i] < b.segments[i] ? -1 : 1;
  }
  if (a.segments.length !== b.segments.length) return a.segments.length - b.segments.length;
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

function special(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export interface WalkOptions {
  /** File name endings (lower case, with the dot) that are listed in `files`. */
  extensions: readonly string[];
  signal?: AbortSignal;
  /** Called every 1000 entries with the count so far. */
  onProgress?: (entries: number) => void;
}

/**
 * How the walk takes an entry: a folder to enter, a file, 'seen' (a folder already reached, through a link or
 * a loop: passed over), or skipped for the reason given. Links are followed only inside `realRoot`; `seen`
 * gains each real folder the walk will enter.
 */
async function entryKind(
  entry: Dirent<Buffer>,
  path: FsPath,
  realRoot: string,
  seen: Set<string>,
): Promise<'dir' | 'file' | 'seen' | { why: string }> {
  let isDir = entry.isDirectory();
  let isFile = entry.isFile();
  if (entry.isSymbolicLink()) {
    const real = await realpath(path).catch(() => undefined);
    const s = real === undefined ? undefined : await stat(real).catch(() => undefined);
    if (real === undefined || s === undefined) return { why: 'a dangling link' };
    const inside = real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
    if (!inside) return { why: `a link leading outside the folder (to ${real})` };
    isDir = s.isDirectory();
    isFile = s.isFile();
    if (!isDir && !isFile) return { why: `a link to ${special(s)}` };
    if (isDir) {
      if (seen.has(real)) return 'seen'; // a loop, or a folder reached twice
      seen.add(real);
    }
  } else if (isDir) {
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined || seen.has(real)) return 'seen';
    seen.add(real);
  } else if (!isFile) {
    const s = await stat(path).catch(() => undefined);
    return { why: s ? special(s) : 'unreadable' };
  }
  return isDir ? 'dir' : 'file';
}

/** Lists `root` recursively; see the module comment. */
export async function walkFolder(root: string, options: WalkOptions): Promise<FolderListing> {
  const { extensions, signal, onProgress } = options;
  const files: FolderEntry[] = [];
  const others: string[] = [];
  const skipped: { name: string; why: string }[] = [];
  const realRoot = await realpath(root);
  const seen = new Set<string>([realRoot]);
  let count = 0;
  const walk = async (dir: FsPath, rel: string[]): Promise<void> => {
    signal?.throwIfAborted();
    let entries: Dirent<Buffer>[];
    try {
      entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    } catch (e) {
      throw new FileFormatError(
        String(dir),
        `cannot list folder (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
    for (const entry of entries) {
      if (++count % 1000 === 0) onProgress?.(count);
      if (isHidden(entry.name)) continue;
      const { text, exact } = decodeName(entry.name);
      const path = joinPath(dir, entry.name, exact, text);
      const segments = [...rel, text];
      const name = segments.join('/');
      const kind = await entryKind(entry, path, realRoot, seen);
      if (kind === 'seen') continue;
      if (typeof kind === 'object') {
        skipped.push({ name, why: kind.why });
        continue;
      }
      if (kind === 'dir') await walk(path, segments);
      else if (extensions.some((e) => text.toLowerCase().endsWith(e))) files.push({ segments, path });
      else others.push(name);
    }
  };
  await walk(root, []);
  files.sort(compareEntries);
  others.sort();
  return { files, others, skipped };
}
