/**
 * The one reader of untrusted input files: opens without blocking (a FIFO does not hang the open), fstats the
 * open handle, refuses anything but a regular file, and refuses a file larger than its kind's cap before a
 * byte of it is read. Errors are `FileFormatError`s naming the file and the problem.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { FileFormatError } from '../errors.js';

const MiB = 2 ** 20;

/** The largest file of each kind that is read (bytes): one table, so every reader's cap is in one place. */
export const MAX_FILE_BYTES = {
  /** Model weights (safetensors, PyTorch .bin): fs.readFile's own limit. */
  weights: 2 ** 31 - 1,
  /** config.json, scheduler_config.json, model_index.json, classifier configs. */
  config: 4 * MiB,
  /** One training image in a data folder (a 8192×8192 RGB PNG stored uncompressed is 192 MiB). */
  image: 256 * MiB,
  /** An input PNG of sample/inpaint/colorize or an `evaluate --samples` image. */
  png: 256 * MiB,
  /** An IDX images or labels file (MAX_IDX_BYTES of payload, or its gzip). */
  idx: 2 ** 31 + 64,
  /** training_state/manifest.json: two file entries. */
  'training manifest': 1 * MiB,
  /** training_state/…/state.json: options, generator and the loader's permutation (≈ 8 bytes an image). */
  'training state': 256 * MiB,
  /** training_state/…/state.safetensors: weights, EMA and Adam moments (also checked against the manifest). */
  'training tensors': 2 ** 31 - 1,
  /** F.partial.json of `likelihood --out F` (≈ 20 bytes a bits/dim value: 3 million values). */
  'likelihood journal': 64 * MiB,
  /** A JSON result of `likelihood --out`, as `--merge` reads it (each value stored three times). */
  'likelihood result': 192 * MiB,
} as const;

export type FileKind = keyof typeof MAX_FILE_BYTES;

/** Bytes and files read through this module since start: what a test counts instead of timing or measuring. */
export const readCounter = { files: 0, bytes: 0 };

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file (a part of the path is not a folder)',
  EISDIR: 'is a folder, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'symbolic link loop',
  ENXIO: 'is a socket or device, not a regular file',
};

/** The error a failed open or read gives: the file and the reason in words. */
export function fileError(path: string | Buffer, e: unknown): FileFormatError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return new FileFormatError(
    String(path),
    REASONS[code] ?? `cannot read file (${code || (e as Error).message})`,
  );
}

/** What a non-regular file is, in words. */
function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'is a folder, not a file';
  if (s.isFIFO()) return 'is a FIFO (named pipe), not a regular file';
  if (s.isCharacterDevice()) return 'is a character device, not a regular file';
  if (s.isBlockDevice()) return 'is a block device, not a regular file';
  if (s.isSocket()) return 'is a socket, not a regular file';
  return 'is not a regular file';
}

const mib = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`);

/** Refuses a non-regular file, or one over its kind's cap, from its fstat. */
function checkRegular(path: string | Buffer, s: Stats, kind: FileKind): void {
  if (!s.isFile()) throw new FileFormatError(String(path), kindOf(s));
  const cap = MAX_FILE_BYTES[kind];
  if (s.size > cap)
    throw new FileFormatError(
      String(path),
      `is ${mib(s.size)}, over the ${mib(cap)} limit for a ${kind} file`,
    );
}

/** An open regular file and its size from fstat. The caller closes `handle`. */
export interface RegularFile {
  handle: FileHandle;
  size: number;
}

/**
 * Opens `path` (a string, or raw bytes for a name that is not UTF-8) for reading: O_NONBLOCK so that opening
 * a FIFO returns at once, then fstat on the handle (the file read is the file checked). A non-regular file or
 * one over `MAX_FILE_BYTES[kind]` is refused, naming the file.
 */
export async function openRegularFile(path: string | Buffer, kind: FileKind): Promise<RegularFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    const s = await handle.stat();
    checkRegular(path, s, kind);
    readCounter.files++;
    return { handle, size: s.size };
  } catch (e) {
    await handle.close();
    if (e instanceof FileFormatError) throw e;
    throw fileError(path, e);
  }
}

/** Reads `length` bytes at `position` (fewer at the end of the file). */
export async function readAt(
  file: RegularFile,
  path: string | Buffer,
  out: Uint8Array,
  position: number,
): Promise<number> {
  let at = 0;
  while (at < out.length) {
    let n: number;
    try {
      n = (await file.handle.read(out, at, out.length - at, position + at)).bytesRead;
    } catch (e) {
      throw fileError(path, e);
    }
    if (n === 0) break;
    at += n;
  }
  readCounter.bytes += at;
  return at;
}

/**
 * A whole regular file of `kind`, exactly the size fstat gave (a file that shrinks while read is an error;
 * one that grows is read to its size when opened).
 */
export async function readInputFile(path: string | Buffer, kind: FileKind = 'weights'): Promise<Buffer> {
  const file = await openRegularFile(path, kind);
  try {
    const data = Buffer.allocUnsafe(file.size);
    const n = await readAt(file, path, data, 0);
    if (n !== file.size) throw new FileFormatError(String(path), 'file shrank while it was read');
    return data;
  } finally {
    await file.handle.close();
  }
}

/** A whole regular file of `kind` as UTF-8 text. */
export async function readInputText(path: string | Buffer, kind: FileKind): Promise<string> {
  return (await readInputFile(path, kind)).toString('utf8');
}

/** The first `length` bytes of a regular file (fewer if it is shorter) and its size. */
export async function readInputHead(
  path: string | Buffer,
  kind: FileKind,
  length: number,
): Promise<{ head: Uint8Array; size: number }> {
  const file = await openRegularFile(path, kind);
  try {
    const head = new Uint8Array(Math.min(length, file.size));
    const n = await readAt(file, path, head, 0);
    return { head: head.subarray(0, n), size: file.size };
  } finally {
    await file.handle.close();
  }
}

/**
 * `readInputFile` without the thread pool, for many small files (indexing a data folder: four thread-pool
 * round trips a file cost more than the reads). The same checks; the open cannot block (O_NONBLOCK).
 */
export function readInputFileSync(path: string | Buffer, kind: FileKind): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    const s = fstatSync(fd);
    checkRegular(path, s, kind);
    const data = Buffer.allocUnsafe(s.size);
    let at = 0;
    while (at < s.size) {
      const n = readSync(fd, data, at, s.size - at, at);
      if (n === 0) throw new FileFormatError(String(path), 'file shrank while it was read');
      at += n;
    }
    readCounter.files++;
    readCounter.bytes += at;
    return data;
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw fileError(path, e);
  } finally {
    closeSync(fd);
  }
}
