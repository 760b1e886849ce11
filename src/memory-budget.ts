/**
 * The memory a long run may use, and the check made before it starts: an estimate (its parts named) against
 * the machine's memory (the least of RAM, the cgroup limit and the address-space limit), or against a
 * `--max-memory` the user gives. Refused with the estimate and the flag to change, instead of failing an
 * allocation after minutes.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { ConfigError } from './errors.js';

const GiB = 2 ** 30;
const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: GiB, t: 2 ** 40 };

/** What node, onnxruntime and the code need before any tensor (measured RSS of a small run is ~150 MiB). */
export const BASELINE_BYTES = 256 * 2 ** 20;

export interface MemoryBudget {
  bytes: number;
  /** Where the limit comes from, for the message. */
  source: string;
}

/** The address-space limit of this process (`ulimit -v`, `prlimit --as`), if any. */
function addressSpaceLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max address space'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** This machine's memory for one process: RAM, less if a cgroup or an address-space limit says so. */
export function machineMemory(): MemoryBudget {
  const limits: [number, string][] = [
    [totalmem(), "this machine's memory"],
    [process.constrainedMemory?.() || Number.POSITIVE_INFINITY, "this container's memory limit"],
    [addressSpaceLimit(), "this process's address-space limit (ulimit -v)"],
  ];
  const [bytes, source] = limits.reduce((a, b) => (b[0] < a[0] ? b : a));
  return { bytes, source };
}

/** "8G", "512M", "1.5GiB", "2000000000": bytes. Throws a ConfigError naming `flag`. */
export function parseMemorySize(text: string, flag = '--max-memory'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : Number.NaN;
  if (!(bytes >= 2 ** 20 && Number.isFinite(bytes)))
    throw new ConfigError(`${flag} must be a size such as 8G or 512M (at least 1M), got "${text}"`);
  return Math.floor(bytes);
}

/** The budget: `--max-memory` when given, else the machine's. */
export function memoryBudget(maxMemory?: number): MemoryBudget {
  return maxMemory === undefined ? machineMemory() : { bytes: maxMemory, source: '--max-memory' };
}

export const formatBytes = (b: number) =>
  b >= GiB ? `${(b / GiB).toFixed(1)} GiB` : `${Math.max(1, Math.round(b / 2 ** 20))} MiB`;

/** Parts of an estimate, e.g. [['parameters', 4e6], ['activations at batch 64', 1.2e9]]. */
export type MemoryParts = readonly (readonly [string, number])[];

/**
 * Refuses `what` when the parts (plus the baseline) exceed the budget: a ConfigError with the estimate, its
 * parts, the limit and `remedy` (the flags to change).
 */
export function checkMemory(what: string, parts: MemoryParts, budget: MemoryBudget, remedy: string): number {
  const total = BASELINE_BYTES + parts.reduce((s, [, b]) => s + b, 0);
  if (total > budget.bytes) {
    const detail = parts.map(([name, b]) => `${name} ${formatBytes(b)}`).join(', ');
    throw new ConfigError(
      `${what} needs about ${formatBytes(total)} of memory (${detail}), more than ${budget.source} ` +
        `(${formatBytes(budget.bytes)}); ${remedy}` +
        (budget.source === '--max-memory' ? '' : ', or set --max-memory if more is available'),
    );
  }
  return total;
}
