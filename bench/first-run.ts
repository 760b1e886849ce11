/**
 * The README's first-run timings: `scoresde sample` with no flags (the bundled model: 16 images, heun 35 steps,
 * churn 40, one batch, a grid), as a user runs it, timed as a whole process; median and minimum of 5 runs into
 * fresh folders. The command runs as the built `dist/cli/main.js` when there is one (what `npx scoresde` runs),
 * else through tsx (about a second more start-up).
 *
 *   node --import tsx bench/first-run.ts        prints the markdown section
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.SCORESDE_FIRST_RUN_RUNS ?? 5);

export async function runFirstRunBench(): Promise<string> {
  const built = join(ROOT, 'dist/cli/main.js');
  const entry = existsSync(built) ? [built] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
  const seconds: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = mkdtempSync(join(tmpdir(), 'scoresde-first-run-'));
    try {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [...entry, 'sample', '-q', '--out', out], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`scoresde sample failed: ${r.stderr}`);
      seconds.push((performance.now() - t0) / 1000);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  const sorted = [...seconds].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return [
    `\`scoresde sample\` with no flags (the bundled model: 16 images, heun 35 steps churn 40 = 69 UNet calls at batch 16, and a grid), the whole process from start to exit, ${existsSync(built) ? 'dist/cli/main.js' : 'through tsx (dist/ not built)'}; ${RUNS} runs into fresh folders. ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${loadavg()[0].toFixed(1)} at the end (the machine is shared).`,
    '',
    '| command | median | min | runs |',
    '| --- | ---: | ---: | --- |',
    `| \`scoresde sample\` | ${median.toFixed(1)} s | ${sorted[0].toFixed(1)} s | ${seconds.map((s) => s.toFixed(1)).join(', ')} |`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await runFirstRunBench());
