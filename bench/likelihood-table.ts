/**
 * The bundled model's bits/dim table (issue 10), one per model version, rendered from the committed results of
 * scripts/likelihood-table.sh (bench/results/fashion-mnist-bpd-v<N>.json, or while a run is unfinished its
 * journals: ~2 hours of 2 cores, so it is not rerun here), newest version first, beside two exact baselines computed here on the same test images under the same protocol (a
 * full-covariance Gaussian and independent per-pixel histograms, both fitted to the 60,000 training images),
 * per class, and with the Hutchinson estimator's own noise separated from the spread between images.
 *
 *   npm run bench -- bpd-table
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { openImageDataset } from '../src/data/index.js';
import { FASHION_MNIST_CLASSES } from '../src/evaluation/classifier/config.js';
import { fullGaussian, meanAndStandardError, pixelHistogram } from '../src/likelihood/index.js';
import { Generator, rand } from '../src/random/index.js';

const RESULTS_DIR = 'bench/results';
/** Published numbers beside the tables, for scale. */
const PUBLISHED = [
  'Published test bits/dim on dequantized 28×28 MNIST: RealNVP 1.06, Glow 1.05 and FFJORD 0.99 (as tabulated by',
  'FFJORD, Grathwohl et al. 2019), Residual Flows 0.97 (Chen et al. 2019); the Score SDE paper reports 2.99 on',
  'CIFAR-10 for its best model. We found no Fashion-MNIST bits/dim in those papers. None is directly comparable:',
  'Fashion-MNIST has textures and grey levels where MNIST is mostly black and white (the baselines above put a',
  'number on how much harder it is for simple models), and those models trained for days on GPUs where ours',
  'trained for hours on 2 CPU cores (model card). The protocol is the same as score_sde: probability-flow ODE, RK45,',
  'uniform dequantization (so every number here is an upper bound on the discrete 8-bit NLL), +8 for [0, 1].',
];

/** One result file per model version (scripts/likelihood-table.sh's OUT). */
const RESULT_FILE = /^fashion-mnist-bpd-v(\d+)\.json$/;

interface BatchJson {
  pass: number;
  batch: number;
  start: number;
  nfe: number;
  networkCalls: number;
  bitsPerDim: number[];
}

/** The run's settings (a journal's, or a result's) and its batches. */
interface RunFile {
  settings: {
    weights: string;
    data: string;
    split: 'train' | 'test';
    count: number;
    repeats: number;
    divergence: string;
    batchSize: number;
    rtol: number;
    atol: number;
    seed: string;
    seeds: string;
    sigmaMin: number;
    sigmaMax: number;
  };
  model?: string;
  batches: BatchJson[];
}

/**
 * The finished run, or (while it is unfinished) the batches of its journals: the unsharded one and the shards'
 * of `JOBS=2 scripts/likelihood-table.sh`, each batch once.
 */
function loadRun(RESULT: string): {
  settings: RunFile['settings'];
  model: string;
  batches: BatchJson[];
  finished: boolean;
} {
  const dir = dirname(RESULT);
  const files = existsSync(RESULT)
    ? [RESULT]
    : readdirSync(dir)
        .filter(
          (f) =>
            f.startsWith(basename(RESULT, '.json')) &&
            (f.endsWith('.partial.json') || /\.shard\d+-of-\d+\.json$/.test(f)),
        )
        .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`${RESULT}: missing; run scripts/likelihood-table.sh first`);
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunFile);
  const byKey = new Map<string, BatchJson>();
  for (const [i, r] of runs.entries()) {
    if (JSON.stringify(r.settings) !== JSON.stringify(runs[0].settings))
      throw new Error(`${files[i]}: other settings than ${files[0]}`);
    for (const b of r.batches) byKey.set(`${b.pass}/${b.batch}`, b);
  }
  const batches = [...byKey.values()].sort((x, y) => x.pass - y.pass || x.batch - y.batch);
  return {
    settings: runs[0].settings,
    model: runs[0].model ?? 'models/fashion-mnist',
    batches,
    finished: existsSync(RESULT),
  };
}

/** 8-bit values k (N×D) of the first `count` images of a split. */
async function eightBit(data: string, split: 'train' | 'test', count?: number) {
  const ds = await openImageDataset(data, { channels: 1, height: 28, width: 28, split });
  const n = Math.min(count ?? ds.length, ds.length);
  const d = 28 * 28;
  const buf = new Float32Array(d);
  const k = new Uint8Array(n * d);
  for (let i = 0; i < n; i++) {
    await ds.read(i, buf);
    for (let j = 0; j < d; j++) k[i * d + j] = Math.round(buf[j] * 255);
  }
  return { k, d, labels: ds.labels?.subarray(0, n) };
}

const f = (v: number, digits = 3) => v.toFixed(digits);
const pm = (values: ArrayLike<number>) => {
  if (values.length < 2) return '—';
  const { mean, standardError } = meanAndStandardError(values);
  return `${f(mean)} ± ${f(standardError)}`;
};

/** The versions with a result or journals, newest first: `fashion-mnist-bpd-v2.json` → [2, path]. */
function versions(): [number, string][] {
  const found = new Map<number, string>();
  for (const name of readdirSync(RESULTS_DIR)) {
    const m = RESULT_FILE.exec(name.replace(/(\.shard\d+-of-\d+)?(\.json)?(\.partial\.json)?$/, '.json'));
    if (m) found.set(Number(m[1]), join(RESULTS_DIR, `fashion-mnist-bpd-v${m[1]}.json`));
  }
  return [...found.entries()].sort((a, b) => b[0] - a[0]);
}

export async function runBpdTableBench(): Promise<string> {
  const sections: string[] = [];
  const all = versions();
  for (const [i, [version, file]] of all.entries()) {
    let table: string;
    try {
      table = await versionTable(file, version, all.slice(i + 1));
    } catch (e) {
      // An unfinished first pass: say how far it is, and go on to the older versions.
      table = `Not yet: ${(e as Error).message}.`;
    }
    sections.push(`### Version ${version}\n\n${table}`);
  }
  sections.push(PUBLISHED.join('\n'));
  if (sections.length === 1)
    throw new Error(`${RESULTS_DIR}: no bits/dim table; run scripts/likelihood-table.sh first`);
  return sections.join('\n\n');
}

/** Per pass, image i's bits/dim (NaN where that pass has not solved it yet). */
function passTable(settings: RunFile['settings'], batches: BatchJson[]): Float64Array[] {
  const passes = Array.from({ length: settings.repeats }, () =>
    new Float64Array(settings.count).fill(Number.NaN),
  );
  for (const b of batches) passes[b.pass].set(b.bitsPerDim, b.start);
  return passes;
}

/** Each image's bits/dim: the mean over the passes that solved it. */
export function imageMeans(passes: Float64Array[]): Float64Array {
  return Float64Array.from({ length: passes[0].length }, (_, i) => {
    const vs = passes.map((p) => p[i]).filter((v) => !Number.isNaN(v));
    return vs.reduce((s, v) => s + v, 0) / vs.length;
  });
}

/**
 * The finished tables of `older` versions made with the same protocol, images and seeds (only the weights
 * differ): each version's per-image bits/dim, which pair exactly with this version's (same dequantization and
 * Hutchinson draws).
 */
function olderVersions(
  settings: RunFile['settings'],
  older: [number, string][],
): { version: number; perImage: Float64Array }[] {
  const { weights: _, ...protocol } = settings;
  return older.flatMap(([version, file]) => {
    if (!existsSync(file)) return [];
    const run = loadRun(file);
    const { weights: __, ...theirs } = run.settings;
    if (JSON.stringify(theirs) !== JSON.stringify(protocol)) return [];
    return [{ version, perImage: imageMeans(passTable(run.settings, run.batches)) }];
  });
}

/**
 * A version's bits/dim per pass so far (NaN where a pass has not solved an image yet), without the baselines
 * (cheap), and whether its run is finished; undefined without a result or journals.
 */
export function bitsPerDimSoFar(version: number): { passes: Float64Array[]; finished: boolean } | undefined {
  if (!versions().some(([v]) => v === version)) return undefined;
  const { settings, batches, finished } = loadRun(join(RESULTS_DIR, `fashion-mnist-bpd-v${version}.json`));
  return { passes: passTable(settings, batches), finished };
}

/** The baselines of one data set, split and count, computed once for every version that shares them. */
const baselineCache = new Map<string, ReturnType<typeof computeBaselines>>();
function baselinesFor(data: string, split: 'train' | 'test', n: number) {
  const key = JSON.stringify([data, split, n]);
  let entry = baselineCache.get(key);
  if (!entry) {
    entry = computeBaselines(data, split, n);
    baselineCache.set(key, entry);
  }
  return entry;
}

/** The exact baselines on the first n images of a split (dequantization draw: seed 0), and their time. */
async function computeBaselines(data: string, split: 'train' | 'test', n: number) {
  const t0 = performance.now();
  const train = await eightBit(data, 'train');
  const test = await eightBit(data, split, n);
  const u = rand([n, test.d], { generator: new Generator().manualSeed(0) }).data;
  const gaussian = fullGaussian(train.k, train.d).bitsPerDim(test.k, u);
  const histogram = pixelHistogram(train.k, train.d).bitsPerDim(test.k, u);
  return { train, test, gaussian, histogram, seconds: (performance.now() - t0) / 1000 };
}

async function versionTable(RESULT: string, version: number, older: [number, string][]): Promise<string> {
  const { settings: r, model: modelPath, batches, finished } = loadRun(RESULT);
  const n = r.count;
  const passes = passTable(r, batches);
  const solvedIn = passes.map((p) => p.filter((v) => !Number.isNaN(v)).length);
  if (solvedIn[0] < n)
    throw new Error(`${RESULT}: pass 0 has ${solvedIn[0]} of ${n} images; finish it first`);
  const {
    train,
    test,
    gaussian,
    histogram,
    seconds: baselineSeconds,
  } = await baselinesFor(r.data, r.split, n);

  const model = imageMeans(passes);
  // Images with two passes: half the variance of the difference is one solve's noise (Hutchinson probe and
  // dequantization draw); what remains of the per-image spread is real differences between images.
  const both = [...model.keys()].filter((i) => passes.length > 1 && !Number.isNaN(passes[1][i]));
  const solveSd = Math.sqrt(
    both.reduce((s, i) => s + (passes[0][i] - passes[1][i]) ** 2, 0) / (2 * both.length),
  );
  const { mean, standardError } = meanAndStandardError(model);
  const imageSd = standardError * Math.sqrt(n);
  const nfe = batches.map((b) => b.nfe);
  const calls = batches.reduce((s, b) => s + b.networkCalls, 0);
  const solved = batches.reduce((s, b) => s + b.bitsPerDim.length, 0);
  const paired = (other: Float64Array) => model.map((v, i) => v - other[i]);
  const status = finished
    ? `${r.repeats} passes each`
    : `**unfinished run**: pass 0 complete, ${solvedIn
        .slice(1)
        .map((k, p) => `pass ${p + 1} on ${k} of ${n} images`)
        .join(', ')} so far (an image's value is the mean of the passes that solved it)`;

  const lines = [
    `Model \`${relative(process.cwd(), modelPath) || modelPath}\` as of version ${version} (weights sha256 ${r.weights.slice(0, 12)}…) on the first ${n} images of the Fashion-MNIST ${r.split} split, ${status}; fresh dequantization and Hutchinson noise per pass (score_sde's \`bpd_num_repeats\`): ${r.divergence}, RK45 at rtol = ${r.rtol}, atol = ${r.atol}, σ ∈ [${r.sigmaMin}, ${r.sigmaMax}], batches of ${r.batchSize}, batch b of pass p seeded ${r.seed} + p·${Math.ceil(n / r.batchSize)} + b. Made by \`scripts/likelihood-table.sh\` (in resumable pieces over sessions, as 8 merged shards); this section renders its result file and computes the baselines (${f(baselineSeconds, 0)} s).`,
    '',
    '| model | bits/dim (mean ± SE over images) | difference to the score model (paired) |',
    '| --- | ---: | ---: |',
    `| **scoresde default** (score SDE, probability-flow ODE) | **${f(mean)} ± ${f(standardError)}** | |`,
    ...passes.map(
      (row, p) =>
        `| … pass ${p} alone${solvedIn[p] < n ? ` (${solvedIn[p]} images)` : ''} | ${pm(row.filter((v) => !Number.isNaN(v)))} | |`,
    ),
    `| full-covariance Gaussian, fitted to the ${train.k.length / train.d} training images | ${pm(gaussian)} | ${pm(paired(gaussian))} |`,
    `| independent pixels, a 256-bin histogram each (add-one smoothed) | ${pm(histogram)} | ${pm(paired(histogram))} |`,
    ...olderVersions(r, older).map(
      (o) =>
        `| version ${o.version} of the score model (the same images, dequantization and Hutchinson draws) | ${pm(o.perImage)} | ${pm(paired(o.perImage))} |`,
    ),
    '',
    `The baselines are exact densities under the same protocol (uniform dequantization, +8 for data in [0, 1]); for the histogram model the dequantization draw drops out. ${both.length > 1 ? `Noise of one solve (from the passes' differences on ${both.length} images): sd ${f(solveSd)} bits/dim, against a spread of ${f(imageSd)} between images${solveSd < imageSd / 3 ? ', so the standard error is almost all the choice of images' : ''}.` : `Spread between images: sd ${f(imageSd)} bits/dim (no image has two passes yet).`} NFE per solve (batch of ${r.batchSize}): mean ${f(nfe.reduce((s, v) => s + v, 0) / nfe.length, 0)}, ${Math.min(...nfe)}–${Math.max(...nfe)}; ${f(calls / solved, 1)} network calls (score + VJP) per image and pass.`,
    '',
  ];
  if (test.labels) {
    lines.push(
      '| class | images | score model | Gaussian | histogram |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const [c, name] of FASHION_MNIST_CLASSES.entries()) {
      const idx = [...test.labels.keys()].filter((i) => test.labels?.[i] === c);
      const pick = (a: Float64Array) => idx.map((i) => a[i]);
      lines.push(
        `| ${name} | ${idx.length} | ${pm(pick(model))} | ${pm(pick(gaussian))} | ${pm(pick(histogram))} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}
