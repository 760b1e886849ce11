/** Command-line parsing helpers around node:util parseArgs, with errors that name the flag. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { ExecutionProvider } from '../onnx/index.js';

/** Bad command-line input: printed with a pointer to `--help`, exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the user must fix (missing model, no network, bad file): printed without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Where a command writes; replaceable in tests. */
export interface CliIO {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
}

/** Parses `argv` strictly (unknown flags and stray positionals are errors) against `options`. */
export function parseCommandArgs(
  command: string,
  argv: string[],
  options: OptionSpec,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    // parseArgs' messages already name the flag; drop its advice about '--' which does not apply here.
    const message = (e as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${message}`);
  }
}

/** A required string flag. */
export function requireString(values: Record<string, unknown>, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command}: --${name} is required`);
  return v;
}

/** An integer flag ≥ `min`, or `fallback` when absent. */
export function intOption(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const text = String(v).trim();
  if (!/^[+-]?\d+$/.test(text)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${v}`);
  return n;
}

/** A finite number flag > 0, or undefined when absent. */
export function positiveNumberOption(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(String(v).trim());
  if (String(v).trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} must be a number > 0, got "${v}"`);
  }
  return n;
}

/** `--device cpu|cuda` → onnxruntime execution providers. */
export function executionProvidersFor(device: unknown): ExecutionProvider[] | undefined {
  if (device === undefined || device === 'cpu') return undefined;
  if (device === 'cuda') return ['cuda'];
  throw new UsageError(`--device must be "cpu" or "cuda", got "${device}"`);
}

/** The Hub / loading flags every model command accepts. */
export const MODEL_OPTIONS = {
  model: { type: 'string', short: 'm' },
  device: { type: 'string' },
  'cache-dir': { type: 'string' },
  revision: { type: 'string' },
  variant: { type: 'string' },
  'local-files-only': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies OptionSpec;

export const MODEL_OPTIONS_HELP = `Model options:
  -m, --model <id|dir>     Hub repo id (e.g. google/ncsnpp-celebahq-256) or a local folder (required)
      --device <cpu|cuda>  onnxruntime execution provider (default cpu; cuda needs onnxruntime-node's CUDA build)
      --cache-dir <dir>    Hub cache (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)
      --revision <rev>     branch, tag or commit on the Hub (default main)
      --variant <name>     weights variant, e.g. fp16
      --local-files-only   use the cache only, never the network (also: HF_HUB_OFFLINE=1)
  -h, --help               show this help`;
