/**
 * The README's first-run timings: `scoresde sample` with no flags (the bundled model with its own default sampling,
 * DEFAULT_SAMPLING: 16 images in one batch, a grid), as a user runs it, timed as a whole process; median and minimum of 5 runs into
 * fresh folders, wall-clock and CPU (user + system) seconds. On a shared, loaded machine the CPU time is the
 * steadier number: on an idle machine with C cores the wall time is about CPU / C (onnxruntime uses them all). The command runs as the built `dist/cli/main.js` when there is one (what `npx scoresde` runs),
 * else through tsx (about a second more start-up).
 *
 *   node --import tsx bench/first-run.ts        prints the markdown section
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SAMPLING } from '../src/pipelines/default-sampling.js';
import { networkCallsWith } from '../src/samplers/registry.js';
import { schedulerSamplerSettings } from '../src/samplers/ve-scheduler.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.SCORESDE_FIRST_RUN_RUNS ?? 5);

export async function runFirstRunBench(): Promise<string> {
  const built = join(ROOT, 'dist/cli/main.js');
  const entry = existsSync(built) ? [built] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
  const seconds: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = mkdtempSync(join(tmpdir(), 'scoresde-first-run-'));
    try {
      // bash's `time` reports the child's wall, user and system seconds.
      const command = [process.execPath, ...entry, 'sample', '-q', '--out', out]
        .map((a) => `'${a}'`)
        .join(' ');
      const r = spawnSync('bash', ['-c', `TIMEFORMAT='%R %U %S'; time ${command} > /dev/null`], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`scoresde sample failed: ${r.stderr}`);
      const [real, user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
      seconds.push(real);
      cpu.push(user + sys);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return [
    `\`scoresde sample\` with no flags (the bundled model: ${await defaultText()}, and a grid), the whole process from start to exit, ${existsSync(built) ? 'dist/cli/main.js' : 'through tsx (dist/ not built)'}; ${RUNS} runs into fresh folders. ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${loadavg()[0].toFixed(1)} at the end (the machine is shared).`,
    '',
    '| command | wall: median | wall: min | CPU: median | CPU: min | wall per run |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    `| \`scoresde sample\` | ${median(seconds).toFixed(1)} s | ${Math.min(...seconds).toFixed(1)} s | ${median(cpu).toFixed(1)} s | ${Math.min(...cpu).toFixed(1)} s | ${seconds.map((s) => s.toFixed(1)).join(', ')} |`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await runFirstRunBench());

/** The bundled model's default run in words, e.g. "16 images, heun 14 steps, churn 40, gaussianNormAbove 1 = 27 UNet calls at batch 16". */
async function defaultText(): Promise<string> {
  const { count, sampler, steps, options } = DEFAULT_SAMPLING;
  const scheduler = JSON.parse(readFileSync('models/fashion-mnist/scheduler/scheduler_config.json', 'utf8'));
  const calls = await networkCallsWith(sampler, {
    ...schedulerSamplerSettings(scheduler),
    steps,
    ...options,
  });
  const opts = Object.entries(options)
    .map(([k, v]) => `, ${k} ${v}`)
    .join('');
  return `${count} images, ${sampler} ${steps} steps${opts}${calls === undefined ? '' : ` = ${calls} UNet calls`} at batch ${count}`;
}
