/**
 * Reading diffusers-style JSON configs (config.json, scheduler_config.json, model_index.json).
 * Like diffusers' `extract_init_dict`, private `_`-prefixed keys are dropped silently and unknown keys are
 * dropped with a warning, so configs written by newer diffusers versions still load.
 */
import { FileFormatError } from '../errors.js';
import { readInputText } from './read-file.js';

/** A parsed JSON config: always a plain object. */
export type JsonConfig = Record<string, unknown>;

/** Deepest nesting a config may have; diffusers configs nest two levels (lists in an object). */
export const MAX_CONFIG_DEPTH = 16;

/** Warning code emitted (via `process.emitWarning`) for unknown config keys. */
export const UNKNOWN_CONFIG_KEYS_WARNING = 'SCORESDE_UNKNOWN_CONFIG_KEYS';

/** Reads a JSON config file; throws `FileFormatError` naming the file if it is missing, unreadable or not a JSON object. */
export async function readJsonConfig(path: string): Promise<JsonConfig> {
  let text: string;
  try {
    text = await readInputText(path, 'config');
  } catch (e) {
    if (e instanceof FileFormatError && e.message.endsWith(': no such file'))
      throw new FileFormatError(path, 'config file not found');
    throw e;
  }
  return parseJsonConfig(text, path);
}

/** Parses JSON config text; `file` names the source in error messages. */
export function parseJsonConfig(text: string, file = '<config>'): JsonConfig {
  let value: unknown;
  try {
    // Python's json module writes NaN/Infinity, which JSON.parse rejects; diffusers configs never contain them.
    value = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(file, `invalid JSON in config (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FileFormatError(
      file,
      `config must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  const depth = nestingDepth(value, MAX_CONFIG_DEPTH);
  if (depth > MAX_CONFIG_DEPTH) {
    throw new FileFormatError(file, `config nests deeper than ${MAX_CONFIG_DEPTH} levels`);
  }
  return value as JsonConfig;
}

/** The nesting depth of a parsed JSON value (0 for a scalar), counted without recursion; stops past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    max = Math.max(max, d + 1);
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

export interface CheckConfigKeysOptions {
  /** What the config is for, e.g. "UNet2DModel"; used in the warning. */
  what: string;
  /** The config's file, named in the warning. */
  file?: string;
  /** Receives the warning instead of `process.emitWarning`. */
  onWarning?: (message: string, unknownKeys: string[]) => void;
}

/**
 * Returns the entries of `config` whose keys are in `knownKeys`. `_`-prefixed keys (`_class_name`,
 * `_diffusers_version`, …) are dropped silently; other unknown keys are dropped with one warning naming them all.
 */
export function checkConfigKeys(
  config: JsonConfig,
  knownKeys: Iterable<string>,
  options: CheckConfigKeysOptions,
): JsonConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError(`checkConfigKeys: config for ${options.what} must be a plain object`);
  }
  const known = new Set(knownKeys);
  const out: JsonConfig = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (key.startsWith('_')) continue;
    if (known.has(key)) out[key] = value;
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    const where = options.file ? `${options.file}: ` : '';
    const list = unknown.map((k) => JSON.stringify(k)).join(', ');
    const message = `${where}config attributes ${list} are not expected by ${options.what} and will be ignored`;
    if (options.onWarning) options.onWarning(message, unknown);
    else process.emitWarning(message, { type: 'ConfigWarning', code: UNKNOWN_CONFIG_KEYS_WARNING });
  }
  return out;
}
