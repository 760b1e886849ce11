/** Telling a Hub repo id from a local folder, as diffusers' `from_pretrained` does. */
import { existsSync } from 'node:fs';
import { validateRepoId } from './cache-layout.js';

/**
 * True when `s` looks like a Hub repo id `org/name` and is not an existing local path, so
 * `./models/x` or an existing `org/name` folder is read from disk instead of downloaded.
 */
export function isHubRepoId(s: string): boolean {
  if (typeof s !== 'string' || s.split('/').length !== 2) return false;
  try {
    validateRepoId(s);
  } catch {
    return false;
  }
  return !existsSync(s);
}
