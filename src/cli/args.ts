/** Command-line parsing helpers around node:util parseArgs, with errors that name the flag. */
import { parseArgs } from 'node:util';
import { parseMemorySize } from '../memory-budget.js';
import type { ExecutionProvider } from '../onnx/index.js';
import { type FlagSection, flagHelp, flagOptions, type OptionSpec } from './flags.js';

export type { OptionSpec };

/** Bad command-line input: printed with a pointer to `--help`, exit code 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the user must fix (missing model, no network, bad file): printed without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Where a command writes; replaceable in tests. */
export interface CliIO {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
}

/** `--seed -1`: node's parseArgs takes "-1" for a flag, so join a negative number to its flag: `--seed=-1`. */
function joinNegativeNumbers(argv: readonly string[], options: OptionSpec): string[] {
  /** The long name of a flag that takes a value, or undefined. */
  const valueFlag = (token: string): string | undefined => {
    if (token.startsWith('--'))
      return options[token.slice(2)]?.type === 'string' ? token.slice(2) : undefined;
    if (!/^-[^-]$/.test(token)) return undefined;
    return Object.entries(options).find(([, o]) => o.short === token[1] && o.type === 'string')?.[0];
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    const flag = valueFlag(argv[i]);
    if (next !== undefined && flag !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`--${flag}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/** Edit distance with adjacent transpositions (optimal string alignment): `modle` is 1 from `model`. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known flag nearest to `unknown` (`--modle` → `--model`), if one is close enough to be a typo. */
export function nearestFlag(unknown: string, options: OptionSpec): string | undefined {
  const name = unknown.replace(/^-+/, '').split('=')[0];
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const flag of Object.keys(options)) {
    const d = editDistance(name, flag);
    if (d < bestDistance) [best, bestDistance] = [flag, d];
  }
  const allowed = name.length >= 5 ? 2 : 1;
  return best !== undefined && bestDistance <= allowed ? `--${best}` : undefined;
}

/** Parses `argv` strictly (unknown flags and stray positionals are errors) against `options`. */
export function parseCommandArgs(
  command: string,
  argv: string[],
  options: OptionSpec,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const args = joinNegativeNumbers(argv, options);
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (e) {
    const err = e as Error & { code?: string };
    // parseArgs' messages already name the flag; drop its advice about '--' which does not apply here.
    let message = err.message.replace(/\. To specify a positional argument.*$/s, '');
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'(-[^']*)'/.exec(err.message)?.[1];
      const near = flag === undefined ? undefined : nearestFlag(flag, options);
      if (near !== undefined) message += `; did you mean ${near}?`;
    }
    throw new UsageError(`${command}: ${message}`);
  }
}

/** A required string flag. */
export function requireString(values: Record<string, unknown>, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`${command}: --${name} is required`);
  return v;
}

/** An integer flag in [`min`, `max`], or `fallback` when absent. */
export function intOption(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const text = String(v).trim();
  if (!/^[+-]?\d+$/.test(text)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be an integer ${range}, got ${v}`);
  }
  return n;
}

/** The largest seed: torch and Generator.manualSeed take seeds up to 2^64 − 1. */
export const MAX_SEED = 2n ** 64n - 1n;

/** `--seed`: an integer in [0, 2^64 − 1] (BigInt, as torch.Generator().manual_seed takes). */
export function seedOption(values: Record<string, unknown>, name = 'seed'): bigint {
  const v = values[name];
  if (v === undefined) return 0n;
  const text = String(v).trim();
  if (!/^[+-]?\d+$/.test(text)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  const n = BigInt(text);
  if (n < 0n || n > MAX_SEED)
    throw new UsageError(`--${name} must be an integer from 0 to 2^64 − 1, got ${v}`);
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
export const MODEL_FLAGS: FlagSection = {
  title: 'Model options:',
  flags: [
    {
      name: 'model',
      short: 'm',
      value: '<id|dir>',
      help: 'Hub repo id (e.g. google/ncsnpp-celebahq-256) or a local folder (default: the bundled Fashion-MNIST model, offline)',
    },
    {
      name: 'device',
      value: '<cpu|cuda>',
      help: "onnxruntime execution provider (default cpu; cuda needs onnxruntime-node's CUDA build)",
    },
    {
      name: 'cache-dir',
      value: '<dir>',
      help: 'Hub cache (default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)',
    },
    { name: 'revision', value: '<rev>', help: 'branch, tag or commit on the Hub (default main)' },
    { name: 'variant', value: '<name>', help: 'weights variant, e.g. fp16' },
    {
      name: 'local-files-only',
      help: 'use the cache only, never the network (also: HF_HUB_OFFLINE=1)',
    },
    { name: 'help', short: 'h', help: 'show this help' },
  ],
};

export const MODEL_OPTIONS: OptionSpec = flagOptions([MODEL_FLAGS]);
export const MODEL_OPTIONS_HELP = flagHelp([MODEL_FLAGS]);

/** `--max-memory <size>` in bytes, or undefined when not given. */
export function maxMemoryOption(values: Record<string, unknown>): number | undefined {
  const v = values['max-memory'];
  if (v === undefined) return undefined;
  try {
    return parseMemorySize(String(v));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
