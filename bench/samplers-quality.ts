/**
 * Sampler quality against network calls on analytic Gaussian mixtures (exact scores, so only the sampler
 * is measured): sliced Wasserstein-2 distance (SW2) between each sampler's samples and exact samples,
 * against the number of score evaluations (NFE). diffusers' default (PC, 2000 steps = 4000 calls) is the
 * reference row; the noise floor is SW2 between two independent exact sample sets of the same size.
 *
 *   node --import tsx bench/samplers-quality.ts      prints the markdown section
 */
import { fileURLToPath } from 'node:url';
import { Generator } from '../src/random/index.js';
import {
  type AnalyticScoreFn,
  classifyComponents,
  gaussianMixtureScore,
  sampleExact,
} from '../src/samplers/analytic.js';
import { imageMixtureSpec, MIXTURE_2D } from '../src/samplers/analytic-examples.js';
import { runSampler, type SamplerName, type SamplerOptions } from '../src/samplers/registry.js';
import { mixtureSlices, slicedWassersteinToMixture } from '../src/samplers/sliced-wasserstein-exact.js';
import type { Tensor } from '../src/tensor.js';

interface Setting {
  sampler: SamplerName;
  options: Omit<SamplerOptions, 'shape'>;
  label: string;
}

const pc = (steps: number, predictor = 'reverse-diffusion', corrector = 'langevin'): Setting => ({
  sampler: 'pc',
  options: { steps, predictor, corrector } as Setting['options'],
  label: `${predictor} + ${corrector}, ${steps} steps`,
});
const stepped = (sampler: 'heun' | 'dpmpp-2m', steps: number, extra: Setting['options'] = {}): Setting => ({
  sampler,
  options: { steps, ...extra },
  label: `${steps} steps${extra.churn ? `, churn ${extra.churn} (σ ∈ [0.05, 50])` : ''}`,
});
const ode = (tol: number): Setting => ({
  sampler: 'ode',
  options: { rtol: tol, atol: tol },
  label: `rtol = atol = ${tol}`,
});

/** The 2-D mixture of the tests: three components of different widths and weights. */
const MIXTURE_2D_SCORE = gaussianMixtureScore(MIXTURE_2D);

interface Row {
  sampler: string;
  label: string;
  nfe: number;
  /** SW2 to the exact mixture, one per seed. */
  sw: number[];
  weightError: number;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
/** Standard error of the mean (0 for one value). */
const stderr = (v: number[]) =>
  v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1) / v.length);

/** Largest |fraction of samples in component k − w_k|. */
function weightError(score: AnalyticScoreFn, samples: Tensor<'float32'>): number {
  const comp = classifyComponents(score.model, samples);
  const w = score.model.weights;
  let worst = 0;
  for (let k = 0; k < w.length; k++) {
    const frac = comp.filter((c) => c === k).length / comp.length;
    worst = Math.max(worst, Math.abs(frac - w[k]));
  }
  return worst;
}

async function measure(
  score: AnalyticScoreFn,
  n: number,
  seeds: number[],
  settings: Setting[],
  log: (s: string) => void,
) {
  const dims = score.model.dims;
  const slices = mixtureSlices(score.model, n);
  const floors = [100, 101, 102, 103, 104].map((seed) =>
    slicedWassersteinToMixture(sampleExact(score, n, new Generator().manualSeed(seed)).samples, slices),
  );
  const rows: Row[] = [];
  for (const s of settings) {
    const row: Row = { sampler: s.sampler, label: s.label, nfe: 0, sw: [], weightError: 0 };
    const t0 = performance.now();
    for (const seed of seeds) {
      const r = await runSampler(
        s.sampler,
        score,
        { shape: [n, ...dims], ...s.options },
        { generator: new Generator().manualSeed(seed) },
      );
      row.nfe = r.nfe;
      row.sw.push(slicedWassersteinToMixture(r.sample, slices));
      row.weightError = Math.max(row.weightError, weightError(score, r.sample));
    }
    const seconds = (performance.now() - t0) / 1000;
    log(
      `[samplers] ${dims.join('×')} ${s.sampler} ${s.label}: NFE ${row.nfe}, SW2 ${mean(row.sw).toFixed(4)} (${seconds.toFixed(1)} s)`,
    );
    rows.push(row);
  }
  return { rows, floors };
}

function table(rows: Row[], floor: number): string[] {
  const ref = rows[0];
  const lines = [
    '| sampler | settings | NFE | SW2 to the exact mixture | ÷ exact-sample floor | max weight error |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  const order = [...rows].sort((a, b) =>
    a === ref ? -1 : b === ref ? 1 : a.sampler.localeCompare(b.sampler) || a.nfe - b.nfe,
  );
  for (const r of order) {
    const name = r === ref ? `**${r.sampler} (diffusers default)**` : r.sampler;
    const sw =
      r.sw.length > 1 ? `${mean(r.sw).toFixed(4)} ± ${stderr(r.sw).toFixed(4)}` : mean(r.sw).toFixed(4);
    lines.push(
      `| ${name} | ${r.label} | ${r.nfe} | ${sw} | ${(mean(r.sw) / floor).toFixed(2)} | ${r.weightError.toFixed(3)} |`,
    );
  }
  return lines;
}

/** The samplers with ≤ 200 calls whose mean SW2 is at most the reference's. */
function verdict(rows: Row[], floors: number[]): string {
  const ref = rows[0];
  const limit = mean(ref.sw);
  const good = rows
    .filter((r) => r !== ref && r.nfe <= 200 && mean(r.sw) <= limit)
    .sort((a, b) => a.nfe - b.nfe);
  const band = mean(floors) + 2 * stderr(floors);
  const note = ` (For scale: exact samples score ${mean(floors).toFixed(4)} ± ${stderr(floors).toFixed(4)}; differences below ~${(band - mean(floors)).toFixed(4)} are sampling noise.)`;
  if (good.length === 0)
    return `No sampler with ≤ 200 calls reached the default's mean SW2 (${limit.toFixed(4)}).${note}`;
  return `**≤ 200 calls at the default's quality** (mean SW2 ≤ ${limit.toFixed(4)}, the default's at ${ref.nfe} calls): ${good
    .slice(0, 8)
    .map((r) => `${r.sampler} ${r.label} (${r.nfe} calls, ${mean(r.sw).toFixed(4)})`)
    .join('; ')}.${note}`;
}

export async function runSamplerBench(log: (s: string) => void = (s) => console.error(s)): Promise<string> {
  const t0 = performance.now();
  const settings2d: Setting[] = [
    pc(2000),
    pc(1000),
    pc(500),
    pc(200),
    pc(100),
    pc(50),
    pc(500, 'reverse-diffusion', 'none'),
    pc(500, 'euler-maruyama', 'langevin'),
    pc(500, 'ancestral', 'langevin'),
    pc(500, 'reverse-diffusion', 'annealed-langevin'),
    pc(100, 'ancestral', 'none'),
    ode(1e-2),
    ode(1e-3),
    ode(1e-5),
    stepped('heun', 10),
    stepped('heun', 18),
    stepped('heun', 35),
    stepped('heun', 50),
    stepped('heun', 100),
    stepped('heun', 50, { churn: 20, churnSigmaMin: 0.05, churnSigmaMax: 50 }),
    stepped('dpmpp-2m', 10),
    stepped('dpmpp-2m', 20),
    stepped('dpmpp-2m', 35),
    stepped('dpmpp-2m', 50),
    stepped('dpmpp-2m', 100),
  ];
  const n2 = 6000;
  const seeds2 = [0, 1, 2];
  const small = await measure(MIXTURE_2D_SCORE, n2, seeds2, settings2d, log);

  const settingsImage: Setting[] = [
    pc(2000),
    pc(500),
    pc(100),
    ode(1e-3),
    ode(1e-5),
    stepped('heun', 18),
    stepped('heun', 35),
    stepped('heun', 50),
    stepped('heun', 100),
    stepped('dpmpp-2m', 20),
    stepped('dpmpp-2m', 50),
    stepped('dpmpp-2m', 100),
  ];
  const nImg = 100;
  const image = await measure(gaussianMixtureScore(imageMixtureSpec()), nImg, [0], settingsImage, log);
  const minutes = (performance.now() - t0) / 60000;
  const floorLine = (floors: number[]) =>
    `Floor (exact samples, 5 seeds): SW2 = ${mean(floors).toFixed(4)} ± ${stderr(floors).toFixed(4)} (${floors.map((f) => f.toFixed(4)).join(', ')}).`;

  return [
    'Exact analytic scores (no network), so the tables measure the samplers alone. SW2 = sliced Wasserstein-2 distance (256 random directions) from the samples to the **exact mixture** (its projections are 1-D Gaussian mixtures with exact quantiles), so a perfect sampler scores the **floor**, the SW2 of exact samples of the same size (finite-sample noise). Max weight error = largest |fraction of samples in a component − its weight| over the seeds. σ range 0.01–1348 (diffusers defaults). `pc` runs on ScoreSdeVeScheduler (the default row is bit-identical to ScoreSdeVePipeline). NFE = score-network calls.',
    '',
    `### 2-D mixture (3 components), ${n2} samples, seeds ${seeds2.join(', ')} (mean ± s.e.)`,
    '',
    floorLine(small.floors),
    '',
    ...table(small.rows, mean(small.floors)),
    '',
    verdict(small.rows, small.floors),
    '',
    `### 3×16×16 image mixture (3 components, 768 dimensions), ${nImg} samples, seed 0`,
    '',
    floorLine(image.floors),
    '',
    ...table(image.rows, mean(image.floors)),
    '',
    verdict(image.rows, image.floors),
    '',
    `Whole section: ${minutes.toFixed(1)} min on this machine (2 shared cores).`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runSamplerBench().then(
    (md) => console.log(md),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
