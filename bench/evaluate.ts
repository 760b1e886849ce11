/**
 * The sampler table on a real network: Fréchet distance (classifier features, against the Fashion-MNIST test
 * set) against the number of network calls, with the real-vs-real floor, the label histogram's distance to
 * uniform and the memorisation check for each setting.
 *
 *   SCORESDE_EVAL_MODEL=<pipeline folder> npm run bench -- evaluate
 *
 * Environment:
 *   SCORESDE_EVAL_MODEL     the score model (required; the section is skipped without it)
 *   SCORESDE_EVAL_COUNT     images per setting (default 1000)
 *   SCORESDE_EVAL_PC_COUNT  images for the expensive pc rows (diffusers' 2000 steps, pc 500; default COUNT / 4)
 *   SCORESDE_EVAL_BATCH     images per network call (default 64)
 *   SCORESDE_EVAL_DATA      Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)
 *   SCORESDE_EVAL_ROWS      comma-separated rows to run, in order (default: all): a name as in the table's first
 *                           column, or name@n for that row at n images (a row may appear at several counts)
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FashionMnistClassifier } from '../src/evaluation/classifier/model.js';
import { type EvaluationReport, Evaluator } from '../src/evaluation/evaluator.js';
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.js';
import { generateSamples } from '../src/evaluation/generate.js';
import { ScoreSdeVePipeline } from '../src/pipelines/index.js';
import type { SamplerName, SamplerOptions } from '../src/samplers/registry.js';

/** Where bench/run.ts keeps this section's last result. */
const PREVIOUS = 'bench/results/evaluate.md';

interface Setting {
  /** Row name (SCORESDE_EVAL_ROWS selects by it). */
  name: string;
  sampler?: SamplerName;
  steps?: number;
  options?: Omit<SamplerOptions, 'shape'>;
  label: string;
  /** Uses SCORESDE_EVAL_PC_COUNT images. */
  expensive?: boolean;
}

export const SETTINGS: Setting[] = [
  { name: 'default', steps: 2000, label: "diffusers' loop, 2000 steps", expensive: true },
  { name: 'pc-500', sampler: 'pc', steps: 500, label: 'pc, 500 steps', expensive: true },
  { name: 'pc-200', sampler: 'pc', steps: 200, label: 'pc, 200 steps' },
  { name: 'pc-100', sampler: 'pc', steps: 100, label: 'pc, 100 steps' },
  { name: 'pc-50', sampler: 'pc', steps: 50, label: 'pc, 50 steps' },
  { name: 'ode-1e-3', sampler: 'ode', options: { rtol: 1e-3, atol: 1e-3 }, label: 'ode, rtol = atol = 1e-3' },
  { name: 'ode-1e-5', sampler: 'ode', options: { rtol: 1e-5, atol: 1e-5 }, label: 'ode, rtol = atol = 1e-5' },
  { name: 'heun-10', sampler: 'heun', steps: 10, label: 'heun, 10 steps' },
  { name: 'heun-18', sampler: 'heun', steps: 18, label: 'heun, 18 steps' },
  { name: 'heun-35', sampler: 'heun', steps: 35, label: 'heun, 35 steps' },
  { name: 'heun-50', sampler: 'heun', steps: 50, label: 'heun, 50 steps' },
  { name: 'heun-100', sampler: 'heun', steps: 100, label: 'heun, 100 steps' },
  // EDM's stochastic sampler: Heun with churn (fresh noise each step, γ = min(churn / steps, √2 − 1)).
  ...[
    [10, 40],
    [18, 40],
    [35, 10],
    [35, 40],
    [50, 40],
  ].map(([steps, churn]) => ({
    name: `heun-${steps}-churn-${churn}`,
    sampler: 'heun' as const,
    steps,
    options: { churn },
    label: `heun, ${steps} steps, churn ${churn}`,
  })),
  { name: 'dpmpp-2m-10', sampler: 'dpmpp-2m', steps: 10, label: 'dpmpp-2m, 10 steps' },
  { name: 'dpmpp-2m-20', sampler: 'dpmpp-2m', steps: 20, label: 'dpmpp-2m, 20 steps' },
  { name: 'dpmpp-2m-50', sampler: 'dpmpp-2m', steps: 50, label: 'dpmpp-2m, 50 steps' },
  { name: 'dpmpp-2m-100', sampler: 'dpmpp-2m', steps: 100, label: 'dpmpp-2m, 100 steps' },
  // The Gaussian safety net: above σ = g the training data's Gaussian score replaces the network's.
  ...(
    [
      ['dpmpp-2m', 10, 3],
      ['dpmpp-2m', 20, 3],
      ['dpmpp-2m', 20, 5],
      ['heun', 18, 3],
    ] as const
  ).map(([sampler, steps, g]) => ({
    name: `${sampler}-${steps}-gauss-${g}`,
    sampler,
    steps,
    options: { gaussianAbove: g },
    label: `${sampler}, ${steps} steps, Gaussian above σ = ${g}`,
  })),
  {
    name: 'ode-1e-3-gauss-3',
    sampler: 'ode',
    options: { rtol: 1e-3, atol: 1e-3, gaussianAbove: 3 },
    label: 'ode, rtol = atol = 1e-3, Gaussian above σ = 3',
  },
];

interface Row {
  setting: Setting;
  nfe: number;
  seconds: number;
  report: EvaluationReport;
}

const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`${name} must be an integer ≥ 2, got "${v}"`);
  return n;
};

const f = (x: number, d = 2) => x.toFixed(d);

function table(rows: Row[]): string[] {
  const lines = [
    '| row | sampler | images | network calls | FD | floor at that count | FD − floor | label TV to uniform | NN dist. to train (median) | s / image |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { setting, nfe, seconds, report: r } of rows) {
    lines.push(
      `| ${setting.name} | ${setting.label} | ${r.count} | ${nfe} | ${f(r.frechetDistance)} | ${f(r.floorFrechetDistance)} | ${f(r.frechetDistance - r.floorFrechetDistance)} | ${f(r.labelHistogram.totalVariation, 3)} | ${f(r.nearestTrain.median, 3)} (test: ${f(r.testNearestTrain.median, 3)}) | ${f(seconds / r.count, 3)} |`,
    );
  }
  return lines;
}

/** FD above the floor at the same count: comparable across rows with different image counts (both carry the same finite-sample bias). */
const excess = (r: Row) => r.report.frechetDistance - r.report.floorFrechetDistance;

/** ≤ 200 calls at the default's quality (the claim the table tests), judged by FD − floor. */
function verdict(rows: Row[]): string {
  const ref = rows.find((r) => r.setting.name === 'default');
  if (!ref) return 'The default row was not run, so no verdict.';
  const good = rows
    .filter((r) => r !== ref && r.nfe <= 200 && excess(r) <= excess(ref))
    .sort((a, b) => a.nfe - b.nfe);
  const refText = `FD − floor ${f(excess(ref))}, the default's at ${ref.nfe} calls on ${ref.report.count} images, where the floor alone is ${f(ref.report.floorFrechetDistance)}: differences of a few units there are sampling noise`;
  if (good.length === 0) return `No setting with ≤ 200 calls reached the default's quality (${refText}).`;
  return `**≤ 200 calls at the default's quality** (${refText}): ${good
    .map((r) => `${r.setting.name} at ${r.report.count} images (${r.nfe} calls, FD − floor ${f(excess(r))})`)
    .join('; ')}.`;
}

/** The rows to run with their image counts: SCORESDE_EVAL_ROWS ("name" or "name@n", in order), else all. */
function rowPlan(
  spec: string | undefined,
  defaultCount: (s: Setting) => number,
): { setting: Setting; n: number }[] {
  if (!spec) return SETTINGS.map((setting) => ({ setting, n: defaultCount(setting) }));
  return spec.split(',').map((entry) => {
    const [name, at] = entry.trim().split('@');
    const setting = SETTINGS.find((s) => s.name === name);
    if (!setting)
      throw new RangeError(
        `SCORESDE_EVAL_ROWS: no row "${name}" (${SETTINGS.map((s) => s.name).join(', ')})`,
      );
    const n = at === undefined ? defaultCount(setting) : Number(at);
    if (!Number.isInteger(n) || n < 2)
      throw new RangeError(`SCORESDE_EVAL_ROWS: "${entry}" needs an image count ≥ 2`);
    return { setting, n };
  });
}

export async function runEvaluateBench(log: (s: string) => void = (s) => console.error(s)): Promise<string> {
  const model = process.env.SCORESDE_EVAL_MODEL;
  if (!model) {
    // Keep the last measured table rather than overwrite it with nothing.
    if (existsSync(PREVIOUS)) return readFileSync(PREVIOUS, 'utf8');
    return 'Not run: set `SCORESDE_EVAL_MODEL` to a Fashion-MNIST score model folder (see bench/evaluate.ts).';
  }
  const count = envInt('SCORESDE_EVAL_COUNT', 1000);
  const pcCount = envInt('SCORESDE_EVAL_PC_COUNT', Math.max(2, Math.floor(count / 4)));
  const batchSize = envInt('SCORESDE_EVAL_BATCH', 64);
  const plan = rowPlan(process.env.SCORESDE_EVAL_ROWS, (s) => (s.expensive ? pcCount : count));

  const t0 = performance.now();
  const classifier = await FashionMnistClassifier.fromPretrained();
  // Warnings (a model without a scheduler config) go where the bench's progress goes.
  const pipe = await ScoreSdeVePipeline.fromPretrained(model, { onWarning: (m) => log(`warning: ${m}`) });
  pipe.setProgressBarConfig({ disable: true });
  const rows: Row[] = [];
  try {
    const { train, test } = await openFashionMnist(process.env.SCORESDE_EVAL_DATA ?? FASHION_MNIST_DIR);
    const evaluator = await Evaluator.create({ classifier, train, test });
    for (const { setting, n } of plan) {
      const s0 = performance.now();
      const out = await generateSamples(pipe, {
        count: n,
        batchSize,
        seed: 0,
        sampler: setting.sampler,
        numInferenceSteps: setting.steps,
        samplerOptions: setting.options,
      });
      const seconds = (performance.now() - s0) / 1000;
      const report = await evaluator.report(out.data, out.dims);
      log(
        `[evaluate] ${setting.name}: ${out.nfe} calls, FD ${f(report.frechetDistance)} (floor ${f(report.floorFrechetDistance)}), ${f(seconds, 1)} s`,
      );
      rows.push({ setting, nfe: out.nfe, seconds, report });
    }
    const last = rows.at(-1)!.report;
    const hist = rows.map(
      (r) =>
        `| ${r.setting.name} | ${r.report.count} | ${r.report.labelHistogram.counts.join(' | ')} | ${f(r.report.labelHistogram.klToUniform, 4)} |`,
    );
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    return [
      `Model \`${model}\`; images per row as in the table, seeds 0…n−1 (image i from torch.Generator().manual_seed(i)), batches of ${batchSize}; ${availableParallelism()} × ${cpu}. FD = Fréchet distance in the ${classifier.config.feature_dim}-d feature space of scoresde's Fashion-MNIST classifier (test accuracy ${f(100 * (evaluator.classifierTestAccuracy ?? Number.NaN))}%), against all ${evaluator.referenceCount} test images; the **floor** is the FD of as many real training images against the same test set (what a perfect sampler scores at that count), and FD − floor compares rows with different image counts. Samples are centre-cropped to 28×28 and quantised to 8 bits. NN = L2 pixel distance to the nearest of the ${train.length} training images; test images' median shown for scale (a memorising model sits far below it). Total ${f((performance.now() - t0) / 60000, 1)} min.`,
      '',
      ...table(rows),
      '',
      verdict(rows),
      '',
      'Label histogram (classifier predictions) per row, and KL to uniform (nats):',
      '',
      `| row | images | ${last.labelHistogram.classNames.join(' | ')} | KL |`,
      `| --- | ---: | ${last.labelHistogram.classNames.map(() => '---:').join(' | ')} | ---: |`,
      ...hist,
    ].join('\n');
  } finally {
    await pipe.release();
    await classifier.release();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runEvaluateBench().then((md) => console.log(md));
}
