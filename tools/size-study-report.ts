/**
 * Summarises the size study (scripts/size-study.sh) as a Markdown table: training loss against training time
 * for each config. Every run uses the default model's seed, so step k sees the same batch, σ and noise in every
 * run, and the losses are directly comparable step for step; what differs is how many steps an hour buys.
 * Time is steps × the run's quiet step time (the 10th percentile of its logged step times), so a run that
 * shared the CPU for a while is not penalised for it.
 * Usage: node --import tsx tools/size-study-report.ts [MINUTES ...]   (default marks: 5 10 15)
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolveUnetConfig, unetParamSpec } from '../src/models/unet-2d/index.js';

interface LogRow {
  step: number;
  loss: number;
  seconds: number;
}

const RUNS: { name: string; dir: string; config: string }[] = [
  { name: 'small [32, 32, 64] × 1', dir: 'runs/size-study/small', config: 'scripts/size-study/small.json' },
  { name: 'default [32, 64, 64] × 1', dir: 'runs/fashion-mnist', config: 'scripts/fashion-mnist-unet.json' },
  { name: 'large [48, 96, 96] × 2', dir: 'runs/size-study/large', config: 'scripts/size-study/large.json' },
];
const WINDOW = 100; // steps averaged before each mark: one batch's loss is noisy (σ is drawn per image)
const marks = process.argv.slice(2).map(Number);
if (marks.length === 0) marks.push(5, 10, 15);

function readLog(dir: string): LogRow[] {
  return readFileSync(`${dir}/train_log.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as LogRow)
    .filter((r) => Number.isFinite(r.loss));
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

/** Mean loss over the WINDOW steps up to `step`, or undefined when the run has not got there. */
function lossAt(log: LogRow[], step: number): number | undefined {
  const window = log.filter((r) => r.step > step - WINDOW && r.step <= step);
  if (step > log[log.length - 1].step || window.length < WINDOW / 2) return undefined;
  return window.reduce((s, r) => s + r.loss, 0) / window.length;
}

const stepMarks = [250, 500, 750];
const header = [
  'config',
  'parameters',
  'quiet s/step',
  ...marks.map((m) => `loss at ${m} min (its step)`),
  ...stepMarks.map((s) => `loss at step ${s}`),
];
const lines = [
  `| ${header.join(' | ')} |`,
  `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
];
for (const run of RUNS) {
  if (!existsSync(`${run.dir}/train_log.jsonl`)) continue;
  const log = readLog(run.dir);
  const stepSeconds = quantile(
    log.slice(10).map((r) => r.seconds),
    0.1,
  );
  const config = resolveUnetConfig(JSON.parse(readFileSync(run.config, 'utf8')));
  const parameters = [...unetParamSpec(config).values()].reduce(
    (sum, dims) => sum + dims.reduce((p, d) => p * d, 1),
    0,
  );
  const byTime = marks.map((minutes) => {
    const step = Math.floor((minutes * 60) / stepSeconds);
    const loss = lossAt(log, step);
    return loss === undefined ? '—' : `${loss.toFixed(1)} (${step})`;
  });
  const byStep = stepMarks.map((step) => lossAt(log, step)?.toFixed(1) ?? '—');
  lines.push(
    `| ${[run.name, parameters.toLocaleString('en'), stepSeconds.toFixed(2), ...byTime, ...byStep].join(' | ')} |`,
  );
}
console.log(lines.join('\n'));
