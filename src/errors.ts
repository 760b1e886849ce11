/** Errors that name the file (or model) and the problem, so users know what to fix. */

/** A weight/config file is malformed, truncated, corrupt or unsafe. */
export class FileFormatError extends Error {
  override name = 'FileFormatError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** A config value is unsupported or inconsistent. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A computation produced NaN or ±Infinity where a finite value is needed (e.g. a score network's output). */
export class NumericalError extends Error {
  override name = 'NumericalError';
}
