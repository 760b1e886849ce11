/** Reading untrusted input files with an error that names the file. */
import { readFile } from 'node:fs/promises';
import { FileFormatError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/** Reads a whole file; a missing or unreadable file gives a `FileFormatError` naming it and the reason. */
export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new FileFormatError(path, REASONS[code] ?? `cannot read file (${code || (e as Error).message})`);
  }
}
