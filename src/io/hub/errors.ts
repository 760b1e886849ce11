/**
 * Typed Hub errors, named like huggingface_hub's (`huggingface_hub.utils` errors), so callers can
 * branch on `instanceof` and users get the same vocabulary as in Python.
 */

/** Base of every error raised while talking to the Hub or reading its cache. */
export class HubError extends Error {
  override name = 'HubError';
}

/** An HTTP error answer from the Hub; `status` and the Hub's `X-Error-Code` are kept for callers. */
export class HubHttpError extends HubError {
  override name = 'HubHttpError';
  constructor(
    message: string,
    readonly status: number,
    readonly url: string,
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

/** The repo does not exist, or it is private and the token is missing or not allowed to read it. */
export class RepositoryNotFoundError extends HubHttpError {
  override name = 'RepositoryNotFoundError';
}

/** The repo exists but the branch / tag / commit does not. */
export class RevisionNotFoundError extends HubHttpError {
  override name = 'RevisionNotFoundError';
}

/** The repo and revision exist but the file does not. `commitHash` is the commit that was searched. */
export class EntryNotFoundError extends HubHttpError {
  override name = 'EntryNotFoundError';
  commitHash?: string;
}

/** The repo is gated: the user must accept its conditions on the Hub and send a token. */
export class GatedRepoError extends RepositoryNotFoundError {
  override name = 'GatedRepoError';
}

/** The file is not in the local cache and the Hub may not be asked (offline mode / `localFilesOnly`). */
export class LocalEntryNotFoundError extends HubError {
  override name = 'LocalEntryNotFoundError';
}

/** The Hub could not be reached (refused, DNS, timeout, dropped) and the file is not in the cache. */
export class HubConnectionError extends LocalEntryNotFoundError {
  override name = 'HubConnectionError';
}
