/**
 * The FP32 FMA peak of the machine the bench runs on, measured in the bench itself (the CPU generation varies
 * between machines): bench/peak-fma.c, compiled with -march=native, run on every core; the best of 3 runs.
 * null where no C compiler is available (the tables then say so).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: number | null | undefined;

export function peakGflops(): number | null {
  if (cached !== undefined) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const bin = join(here, '.cache', 'peak-fma');
  try {
    mkdirSync(dirname(bin), { recursive: true });
    const cc = process.env.CC ?? 'cc';
    execFileSync(cc, [
      '-O2',
      '-march=native',
      '-ffp-contract=fast',
      '-pthread',
      join(here, 'peak-fma.c'),
      '-o',
      bin,
    ]);
    const threads = String(availableParallelism());
    const runs = [0, 1, 2].map(() =>
      Number(execFileSync(bin, [threads], { encoding: 'utf8' }).split(' ')[0]),
    );
    cached = Math.max(...runs);
  } catch {
    cached = null;
  }
  return cached;
}

/** "123.4 (45 %)" of the measured peak, or the GFLOP/s alone when the peak is unknown. */
export function ofPeak(gflops: number): string {
  const peak = peakGflops();
  return peak === null ? gflops.toFixed(1) : `${gflops.toFixed(1)} (${((100 * gflops) / peak).toFixed(0)} %)`;
}

/** One sentence for a section's machine line: the peak the percentages refer to. */
export function peakSentence(): string {
  const peak = peakGflops();
  return peak === null
    ? 'FP32 FMA peak: not measured (no C compiler).'
    : `FP32 FMA peak measured in this run: ${peak.toFixed(0)} GFLOP/s on ${availableParallelism()} cores (bench/peak-fma.c).`;
}
