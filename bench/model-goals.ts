/**
 * The bundled model against the goals it was trained for (issue 20), from the committed results the other
 * sections render: the per-σ denoiser table, the FD results and the bits/dim table (or its journals while it
 * runs). One row per goal, the current version's number beside the goal, and whether it is met.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { PerSigmaReport } from '../src/diagnostics/index.js';
import { meanAndStandardError } from '../src/likelihood/index.js';
import { DEFAULT_SAMPLING } from '../src/pipelines/default-sampling.js';
import { bitsPerDimSoFar, imageMeans } from './likelihood-table.js';

/** What goalsTable reads of an FD result (bench/results/denoiser/fd-*.json). */
export interface GoalFdResult {
  count: number;
  frechetDistance: number;
  floorFrechetDistance: number;
  sampler: string | null;
  steps: number | null;
  networkCallsPerImage: number | null;
  seed?: string | null;
  samplerOptions?: Record<string, unknown>;
  labelHistogram: { totalVariation: number; counts: number[] };
  nearestTrain: { median: number };
  testNearestTrain: { median: number };
}

const GOAL = {
  denoiserRatio: 1.0, // denoiser MSE ÷ the Gaussian denoiser's, σ ∈ {5, 10, 20, 50}
  dpmppRatio: 2.0, // FD ÷ floor of dpmpp-2m at 20 calls
  defaultRatio: 1.5, // FD ÷ floor of the default sampler…
  defaultCalls: 35, // …at this many network calls or fewer
  labelTv: 0.05,
  bitsPerDim: 3.0,
} as const;

const f = (x: number, d = 2) => x.toFixed(d);
const met = (ok: boolean) => (ok ? 'met' : 'missed');

/** "20 steps, norm fix above 1, Gaussian above 10": what distinguishes FD results of one sampler. */
function describe(r: GoalFdResult): string {
  const o = r.samplerOptions ?? {};
  return [
    `${r.steps} steps`,
    o.gaussianNormAbove === undefined ? 'no norm fix' : `norm fix above ${o.gaussianNormAbove}`,
    ...(o.gaussianAbove === undefined ? [] : [`Gaussian above ${o.gaussianAbove}`]),
  ].join(', ');
}

/** Whether an FD result ran the bundled model's default sampling (same sampler, steps and options). */
function isDefault(r: GoalFdResult): boolean {
  const options = r.samplerOptions ?? {};
  const want = DEFAULT_SAMPLING.options as Record<string, unknown>;
  return (
    r.sampler === DEFAULT_SAMPLING.sampler &&
    r.steps === DEFAULT_SAMPLING.steps &&
    Object.keys({ ...options, ...want }).every((k) => options[k] === want[k])
  );
}

/** The label histogram of several runs with disjoint seeds, pooled: TV to uniform of the summed counts. */
function pooledTv(runs: GoalFdResult[]): { tv: number; images: number } {
  const counts = runs[0].labelHistogram.counts.map((_, k) =>
    runs.reduce((s, r) => s + r.labelHistogram.counts[k], 0),
  );
  const n = counts.reduce((s, c) => s + c, 0);
  return { tv: counts.reduce((s, c) => s + Math.abs(c / n - 1 / counts.length), 0) / 2, images: n };
}

/** True when no two runs share a seed (image k of a run uses seed + k). */
function disjointSeeds(runs: GoalFdResult[]): boolean {
  const ranges = runs
    .map((r) => [Number(r.seed ?? 0), Number(r.seed ?? 0) + r.count] as const)
    .sort((a, b) => a[0] - b[0]);
  return ranges.every((r, i) => i === 0 || r[0] >= ranges[i - 1][1]);
}

/**
 * The goals table. `fd`: the current version's FD results; `perSigmaFile`: its per-σ denoiser table;
 * `version`: its number, for the bits/dim table (the older version pairs with it on the same draws).
 */
export function goalsTable(fd: GoalFdResult[], perSigmaFile: string, version: number): string[] {
  if (!existsSync(perSigmaFile)) return [];
  const perSigma = JSON.parse(readFileSync(perSigmaFile, 'utf8')) as PerSigmaReport;
  const rows: string[] = [];

  const sigmas = [5, 10, 20, 50].map((s) => perSigma.rows.find((r) => r.sigma === s));
  if (sigmas.every((r) => r !== undefined)) {
    const raw = sigmas.map((r) => r.ratio);
    const corrected = sigmas.map((r) => r.normCorrectedRatio ?? Number.NaN);
    rows.push(
      `| denoiser MSE ÷ Gaussian denoiser's, σ = 5 / 10 / 20 / 50 | ≤ ${f(GOAL.denoiserRatio, 1)} | raw ${raw.map((x) => f(x)).join(' / ')}; noise-norm corrected ${corrected.map((x) => f(x)).join(' / ')} (${perSigma.count} test images) | ${met(raw.every((x) => x <= GOAL.denoiserRatio))} |`,
    );
  }

  const at1000 = fd.filter((r) => r.count >= 1000);
  const dpm20 = at1000.filter((r) => r.sampler === 'dpmpp-2m' && r.networkCallsPerImage === 20);
  if (dpm20.length > 0) {
    const ratio = (r: GoalFdResult) => r.frechetDistance / r.floorFrechetDistance;
    const best = dpm20.reduce((a, b) => (ratio(b) < ratio(a) ? b : a));
    rows.push(
      `| FD ÷ floor of dpmpp-2m at 20 calls | ≤ ${f(GOAL.dpmppRatio, 1)} | ${dpm20.map((r) => `${f(ratio(r))} (${describe(r)})`).join('; ')} | ${met(ratio(best) <= GOAL.dpmppRatio)} |`,
    );
  }

  const defaults = fd.filter(isDefault);
  const first = defaults.find((r) => r.count === 1000 && Number(r.seed ?? 0) === 0);
  if (first) {
    const ratio = first.frechetDistance / first.floorFrechetDistance;
    const calls = first.networkCallsPerImage ?? Number.POSITIVE_INFINITY;
    rows.push(
      `| FD ÷ floor of the default sampler, at ≤ ${GOAL.defaultCalls} calls | ≤ ${f(GOAL.defaultRatio, 1)} | ${f(ratio)} at ${calls} calls (FD ${f(first.frechetDistance)}, 1000 images) | ${met(ratio <= GOAL.defaultRatio && calls <= GOAL.defaultCalls)} |`,
    );
    // TV at 1000 images is mostly sampling noise (sd ≈ 0.01): pool every default run with its own seeds.
    const pooled = disjointSeeds(defaults) ? pooledTv(defaults) : pooledTv([first]);
    rows.push(
      `| label histogram of the default, TV to uniform | ≤ ${GOAL.labelTv} | ${f(first.labelHistogram.totalVariation, 3)} at 1000 images${pooled.images > 1000 ? `; ${f(pooled.tv, 3)} at ${pooled.images}` : ''} | ${met(pooled.tv <= GOAL.labelTv)}${pooled.images > 1000 ? ` (at ${pooled.images} images)` : ''} |`,
      `| memorisation: median distance to the nearest training image | not below the test images' | ${f(first.nearestTrain.median)} (test images ${f(first.testNearestTrain.median)}) | ${met(first.nearestTrain.median >= first.testNearestTrain.median)} |`,
    );
  }

  const bpd = bitsPerDimSoFar(version);
  if (bpd) {
    const pass0 = bpd.passes[0];
    const solved = [...pass0.keys()].filter((i) => !Number.isNaN(pass0[i]));
    const means = imageMeans(bpd.passes);
    const { mean, standardError } = meanAndStandardError(solved.map((i) => means[i]));
    const older = bitsPerDimSoFar(version - 1);
    // Pass 0 of both versions on the same images: the same dequantization and Hutchinson draws.
    const paired =
      older && solved.every((i) => !Number.isNaN(older.passes[0][i]))
        ? meanAndStandardError(solved.map((i) => pass0[i] - older.passes[0][i]))
        : undefined;
    const scope = bpd.finished
      ? `${solved.length} test images, ${bpd.passes.length} passes`
      : solved.length === pass0.length
        ? `the ${solved.length} test images, pass 0 complete (later passes unfinished)`
        : `${solved.length} of the ${pass0.length} test images so far (run unfinished)`;
    rows.push(
      `| Fashion-MNIST test bits/dim | ≤ ${f(GOAL.bitsPerDim, 1)} | ${f(mean, 3)} ± ${f(standardError, 3)} on ${scope}${paired ? `; on them version ${version} − version ${version - 1}, paired: ${f(paired.mean, 3)} ± ${f(paired.standardError, 3)}` : ''} | ${mean + 2 * standardError <= GOAL.bitsPerDim ? 'met' : mean - 2 * standardError > GOAL.bitsPerDim ? 'missed' : 'undecided (within 2 SE)'} |`,
    );
  }
  if (rows.length === 0) return [];
  return [
    `The bundled model (version ${version}) against the goals it was trained for (issue 20; model card, "Version ${version} against the goals"), from the results above:`,
    '',
    '| measure | goal | now | |',
    '| --- | --- | --- | --- |',
    ...rows,
  ];
}
