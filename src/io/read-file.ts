/** Reading untrusted input files with an error that names the file. */
import { readFile } from 'node:fs/promises';
import { FileFormatError } from '../errors.js';

/** Reads a whole file; a missing or unreadable file gives a `FileFormatError` naming it and the reason. */
export async function readInputFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new FileFormatError(
      path,
      `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
