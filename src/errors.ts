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

/** A message that names options: `name` gives each its name (the library's by default, the CLI's flags). */
export type OptionMessage = (name: (option: string) => string) => string;

/** A ConfigError about options by name: the message names the library's (`lr`); `render` can name the flags. */
export class OptionError extends ConfigError {
  override name = 'OptionError';
  constructor(readonly render: OptionMessage) {
    super(render((option) => option));
  }
}

/** Training stopped at a non-finite loss; the advice names options, so it has `render` as OptionError. */
export class DivergenceError extends NumericalError {
  override name = 'DivergenceError';
  constructor(readonly render: OptionMessage) {
    super(render((option) => option));
  }
}
