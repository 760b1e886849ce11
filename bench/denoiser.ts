/**
 * The bundled model's per-σ denoiser table and the Gaussian safety net, rendered from committed results
 * (bench/results/denoiser/; each took 20–40 minutes of 2 cores, so they are not rerun here):
 *   per-sigma-*.json   node --import tsx tools/denoise-per-sigma.ts MODEL 1000 --json FILE
 *   pilots/*.json      the same tool on the v2 pilots and the v2 run's checkpoints (one row each)
 *   fd-*.json          scoresde evaluate --sampler S --steps N [--gaussian-above G] [--gaussian-norm-above G]
 *                        --count 1000
 *                        --denoiser-count 0 --out FILE
 *
 * and, from them and the bits/dim table, the bundled model against the goals it was trained for (bench/model-goals.ts).
 *
 *   npm run bench -- denoiser
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPerSigmaReport, type PerSigmaReport } from '../src/diagnostics/index.js';
import { expectedUniformTotalVariation } from '../src/evaluation/label-histogram.js';
import { meanAndStandardError } from '../src/likelihood/index.js';
import { type GoalFdResult, goalsTable } from './model-goals.js';

const DIR = 'bench/results/denoiser';

/** An FD result as the goals read it, plus the model it was evaluated with. */
interface FdResult extends GoalFdResult {
  model: string | null;
  samplerOptions?: { gaussianAbove?: number; gaussianNormAbove?: number; churn?: number };
}

const f = (x: number, d = 2) => x.toFixed(d);

/** "1000", or "4000 (seeds 1000…4999)" for a run that did not start at seed 0. */
function images(r: FdResult): string {
  const seed = Number(r.seed ?? 0);
  return seed === 0 ? String(r.count) : `${r.count} (seeds ${seed}…${seed + r.count - 1})`;
}

export async function runDenoiserBench(): Promise<string> {
  if (!existsSync(DIR)) return `No results in ${DIR}.`;
  const files = readdirSync(DIR).sort();
  const out: string[] = [];
  for (const name of files.filter((n) => n.startsWith('per-sigma-'))) {
    const r = JSON.parse(readFileSync(join(DIR, name), 'utf8')) as PerSigmaReport & { model: string };
    out.push(
      `Per-σ denoiser of \`${r.model}\` on the first ${r.count} Fashion-MNIST test images, fixed noise (seed 0): MSE per pixel of D(x) = x + σ²·score against the mean image and the Gaussian (Wiener) denoiser of the 60,000 training images (\`${name}\`).`,
      '',
      formatPerSigmaReport(r),
      '',
    );
  }
  const fd = files
    .filter((n) => n.startsWith('fd-'))
    .map((n) => JSON.parse(readFileSync(join(DIR, n), 'utf8')) as FdResult)
    .sort(
      (a, b) =>
        modelName(a.model).localeCompare(modelName(b.model)) ||
        String(a.sampler).localeCompare(String(b.sampler)) ||
        (a.steps ?? 0) - (b.steps ?? 0) ||
        (a.samplerOptions?.gaussianAbove ?? 0) - (b.samplerOptions?.gaussianAbove ?? 0) ||
        (a.samplerOptions?.gaussianNormAbove ?? 0) - (b.samplerOptions?.gaussianNormAbove ?? 0),
    );
  if (fd.length > 0) {
    out.push(
      'Sampling with the Gaussian safety nets (`--gaussian-above σ`: above σ, the training data’s Gaussian score replaces the network’s; `--gaussian-norm-above σ`: above σ, the network’s score takes the Gaussian score’s norm), seeds 0…n−1 unless the row says otherwise, against the same sampler without them (v1: the bundled model until 2026-12-07; v2: since):',
      '',
      '| model | sampler | steps | churn | Gaussian above σ | Gaussian norm above σ | images | network calls | FD | floor | FD ÷ floor | FD − floor | label TV | NN dist. to train (median; test) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...fd.map(
        (r) =>
          `| ${modelName(r.model)} | ${r.sampler} | ${r.steps ?? ''} | ${r.samplerOptions?.churn ?? '—'} | ${r.samplerOptions?.gaussianAbove ?? '—'} | ${r.samplerOptions?.gaussianNormAbove ?? '—'} | ${images(r)} | ${r.networkCallsPerImage ?? 'adaptive'} | ${f(r.frechetDistance)} | ${f(r.floorFrechetDistance)} | ${f(r.frechetDistance / r.floorFrechetDistance, 1)} | ${f(r.frechetDistance - r.floorFrechetDistance)} | ${f(r.labelHistogram.totalVariation, 3)} | ${f(r.nearestTrain.median, 3)}; ${f(r.testNearestTrain.median, 3)} |`,
      ),
      '',
      `Label TV's own noise: 1000 labels drawn from exactly uniform average TV ${f(expectedUniformTotalVariation(1000, 10), 3)} (\`expectedUniformTotalVariation\`; about 10 % of such draws exceed 0.05), and the classifier on 1000 real images scores 0.023–0.051 (training images 0–999: 0.037; test images in blocks of 1000: 0.038, 0.031, 0.023, 0.051). One row's TV has a standard deviation of about 0.01 from sampling alone, so rows closer than about 0.02 are not distinguished. The default's rows pooled over their seeds are in the goals table below. FD's floor is its small-sample bias and falls as the count grows (see the floor column), so FD ÷ floor grows with the count; FD − floor is what compares across counts.`,
    );
  }
  // The newest version with a per-σ table is the bundled model: its goals, from its own results.
  const version = Math.max(0, ...files.map((n) => Number(/^per-sigma-v(\d+)\.json$/.exec(n)?.[1] ?? 0)));
  if (version > 0)
    out.push(
      '',
      ...goalsTable(
        fd.filter((r) => modelName(r.model).startsWith(`v${version} `)),
        join(DIR, `per-sigma-v${version}.json`),
        version,
      ),
    );
  out.push(...runsTable(), ...likelihoodSubset());
  return out.join('\n');
}

/**
 * The bundled model's bits/dim since v2 on the first test images (bench/results/fashion-mnist-bpd-v2-first128.json:
 * `scoresde likelihood --count 256 --repeats 1 --seed 0 --shard 0/2`, the protocol of the v1 table), paired with
 * v1's first pass on the same images and noise seeds (bench/results/fashion-mnist-bpd-v1.json).
 */
function likelihoodSubset(): string[] {
  const v2File = 'bench/results/fashion-mnist-bpd-v2-first128.json';
  const v1File = 'bench/results/fashion-mnist-bpd-v1.json';
  if (!existsSync(v2File) || !existsSync(v1File)) return [];
  const v2 = JSON.parse(readFileSync(v2File, 'utf8')) as {
    start: number;
    perImage: number[];
    nfePerSolve: number;
  };
  const v1 = JSON.parse(readFileSync(v1File, 'utf8')) as {
    bitsPerDim: number[][];
    mean: number;
    standardError: number;
  };
  const n = v2.perImage.length;
  const pairs = v2.perImage.map((b, i) => [b, v1.bitsPerDim[0][v2.start + i]] as const);
  const v2Stats = meanAndStandardError(v2.perImage);
  const diff = meanAndStandardError(pairs.map(([a, b]) => a - b));
  const v1Same = meanAndStandardError(pairs.map((p) => p[1])).mean;
  return [
    '',
    `Test bits/dim of v2 on Fashion-MNIST test images ${v2.start}–${v2.start + n - 1} (one pass, seed 0, the protocol of v1's table; \`${v2File}\`): ${f(v2Stats.mean, 3)} ± ${f(v2Stats.standardError, 3)}; v1's first pass on the same images and noise: ${f(v1Same, 3)}; v2 − v1, paired: ${f(diff.mean, 3)} ± ${f(diff.standardError, 3)} (v1 on all 1000 images, two passes: ${f(v1.mean, 3)} ± ${f(v1.standardError, 3)}). NFE per solve: ${f(v2.nfePerSolve, 0)}.`,
    ...gaussianSwitchLikelihood(v2File, v2.perImage, v2.nfePerSolve),
  ];
}

/**
 * v2's bits/dim on the same images and noise with the likelihood's Gaussian switch (`--gaussian-above σ`:
 * bench/results/fashion-mnist-bpd-v2-first128-gauss<σ>.json), paired with the network at every σ.
 */
function gaussianSwitchLikelihood(v2File: string, plain: number[], plainNfe: number): string[] {
  const files = readdirSync('bench/results')
    .filter((n) => /^fashion-mnist-bpd-v2-first128-gauss[\d.]+\.json$/.test(n))
    .map((n) => join('bench/results', n));
  return files
    .map((file) => {
      const r = JSON.parse(readFileSync(file, 'utf8')) as {
        perImage: number[];
        nfePerSolve: number;
        settings: { gaussianAbove: number };
      };
      const stats = meanAndStandardError(r.perImage);
      const diff = meanAndStandardError(r.perImage.map((b, i) => b - plain[i]));
      return `With the Gaussian above σ = ${r.settings.gaussianAbove} (\`--gaussian-above\`, docs/likelihood.md; \`${file}\`), same images and noise: ${f(stats.mean, 3)} ± ${f(stats.standardError, 3)}; minus \`${v2File}\`, paired: ${f(diff.mean, 4)} ± ${f(diff.standardError, 4)}; network calls per solve ${f(r.nfePerSolve, 0)} against ${f(plainNfe, 0)} (${f(plainNfe / r.nfePerSolve, 2)}× fewer).`;
    })
    .flatMap((line) => ['', line]);
}

/** A model path as the repository names it (results store the path they were evaluated at). */
function modelName(path: string | null): string {
  if (!path) return '—';
  if (path.includes(' (')) return path; // already a label, such as "v2 (models/fashion-mnist)"
  const at = path.search(/(models|runs)\//);
  return at >= 0 ? path.slice(at) : path;
}

/** Training runs (the v2 pilots and the v2 run's checkpoints): MSE ÷ the Gaussian denoiser's, one row each. */
function runsTable(): string[] {
  const dir = join(DIR, 'pilots');
  if (!existsSync(dir)) return [];
  const runs = readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => ({
      name: n,
      ...(JSON.parse(readFileSync(join(dir, n), 'utf8')) as PerSigmaReport & { model: string }),
    }));
  if (runs.length === 0) return [];
  const sigmas = runs[0].rows.map((r) => r.sigma);
  return [
    '',
    `Training runs for v2 (model card, "Pilots at equal CPU"): denoiser MSE ÷ the Gaussian denoiser's on the same ${runs[0].count} test images and noise (\`bench/results/denoiser/pilots/\`):`,
    '',
    `| file | model | ${sigmas.join(' | ')} |`,
    `| --- | --- | ${sigmas.map(() => '---:').join(' | ')} |`,
    ...runs.map((r) => `| ${r.name} | \`${r.model}\` | ${r.rows.map((x) => f(x.ratio)).join(' | ')} |`),
    '',
    'The same with the noise-norm correction (each image’s residual x − D(x) rescaled to the Gaussian denoiser’s residual norm, as `--gaussian-norm-above` does; the error a UNet2DModel cannot learn taken out; — where the result predates the column):',
    '',
    `| file | model | ${sigmas.join(' | ')} |`,
    `| --- | --- | ${sigmas.map(() => '---:').join(' | ')} |`,
    ...runs.map(
      (r) =>
        `| ${r.name} | \`${r.model}\` | ${r.rows.map((x) => (x.normCorrectedRatio === undefined ? '—' : f(x.normCorrectedRatio))).join(' | ')} |`,
    ),
  ];
}
