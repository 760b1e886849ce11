/**
 * Likelihood (bits/dim) throughput: images per second, ODE evaluations per solve and network calls per image,
 * batched, with the default Hutchinson–Rademacher divergence at score_sde's tolerances (rtol = atol = 1e-5).
 *
 *   node --import tsx bench/likelihood.ts                    the tiny 1×4×4 fixture UNet on synthetic images
 *   SCORESDE_LIKELIHOOD_MODEL=<dir|repo> [SCORESDE_LIKELIHOOD_DATA=<path>] [SCORESDE_LIKELIHOOD_COUNT=n] \
 *   SCORESDE_LIKELIHOOD_BATCHES=1,8,32 [SCORESDE_LIKELIHOOD_GAUSSIAN_ABOVE=σ] node --import tsx bench/likelihood.ts
 *                                                            a real model on a dataset (default: the
 *                                                            Fashion-MNIST test subset in test/fixtures)
 * With SCORESDE_LIKELIHOOD_GAUSSIAN_ABOVE (a model with gaussian.safetensors), each batch size is also solved
 * with the Gaussian above that σ (`--gaussian-above`), right after the plain solve, in the same process.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { openImageDataset } from '../src/data/index.js';
import type { ImageDataset } from '../src/data/types.js';
import { datasetLikelihood, unetScoreVjp } from '../src/likelihood/index.js';
import type { GaussianStatistics } from '../src/math/gaussian.js';
import { UNet2DModel } from '../src/models/unet-2d/index.js';
import { ScoreSdeVePipeline } from '../src/pipelines/index.js';
import { Generator } from '../src/random/index.js';
import { decodeProbabilityFlow, encodeProbabilityFlow } from '../src/samplers/probability-flow.js';
import type { ScoreFn } from '../src/samplers/types.js';
import { ScoreSdeVeScheduler } from '../src/schedulers/index.js';
import { Tensor } from '../src/tensor.js';

const FIXTURE = fileURLToPath(new URL('../test/fixtures/likelihood/tiny-fourier-1x4x4', import.meta.url));
const FASHION = fileURLToPath(new URL('../test/fixtures/fashion-mnist', import.meta.url));

/** n synthetic 8-bit images (k/255) of (C, H, W), a smooth pattern per image. */
function syntheticDataset(n: number, channels: number, height: number, width: number): ImageDataset {
  const d = channels * height * width;
  return {
    source: 'synthetic',
    length: n,
    channels,
    height,
    width,
    read: async (index, out, offset = 0) => {
      for (let i = 0; i < d; i++)
        out[offset + i] = Math.round(255 * (0.5 + 0.4 * Math.sin(0.7 * i + index))) / 255;
    },
  };
}

interface Setup {
  label: string;
  unet: UNet2DModel;
  score: ScoreFn;
  sigmaMin: number;
  sigmaMax: number;
  dataset: ImageDataset;
  gaussian?: GaussianStatistics;
  release: () => Promise<void>;
}

async function setup(count: number): Promise<Setup> {
  const model = process.env.SCORESDE_LIKELIHOOD_MODEL;
  if (!model) {
    const ref = JSON.parse(readFileSync(`${FIXTURE}/reference.json`, 'utf8'));
    const unet = await UNet2DModel.fromPretrained(FIXTURE);
    return {
      label: 'tiny fixture UNet (1×4×4, random weights), synthetic images',
      unet,
      score: new ScoreSdeVePipeline({ unet, scheduler: new ScoreSdeVeScheduler() }).scoreFn,
      sigmaMin: ref.sigmaMin,
      sigmaMax: ref.sigmaMax,
      dataset: syntheticDataset(count, 1, 4, 4),
      release: () => unet.release(),
    };
  }
  const pipe = await ScoreSdeVePipeline.fromPretrained(model);
  const [height, width] = pipe.sampleSize;
  const data = process.env.SCORESDE_LIKELIHOOD_DATA ?? FASHION;
  const dataset = await openImageDataset(data, {
    channels: pipe.unet.config.in_channels,
    height,
    width,
    split: 'test',
  });
  return {
    label: `${model} on ${data === FASHION ? 'the Fashion-MNIST test subset (test/fixtures)' : data}`,
    unet: pipe.unet,
    score: pipe.scoreFn,
    sigmaMin: pipe.scheduler.config.sigma_min,
    sigmaMax: pipe.scheduler.config.sigma_max,
    dataset,
    gaussian: pipe.gaussian,
    release: () => pipe.release(),
  };
}

/**
 * Encoding is exact up to the solver: decode(encode(x)) − x for the first n images at the default tolerances,
 * as one batch (each image with its own steps, as interpolate runs it), in 8-bit levels (×255).
 */
async function roundTrip(s: Setup, n: number): Promise<string> {
  const { channels, height, width } = s.dataset;
  const d = channels * height * width;
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) await s.dataset.read(i, x, i * d);
  const input = new Tensor('float32', x, [n, channels, height, width]);
  const opts = { sigmaMin: s.sigmaMin, sigmaMax: s.sigmaMax };
  const t0 = performance.now();
  const { latent, nfe: encodeNfe } = await encodeProbabilityFlow(s.score, input, opts);
  const { sample, nfe: decodeNfe } = await decodeProbabilityFlow(s.score, latent, opts);
  const seconds = (performance.now() - t0) / 1000;
  let max = 0;
  let sq = 0;
  for (let i = 0; i < x.length; i++) {
    const e = Math.abs(sample.data[i] - x[i]);
    max = Math.max(max, e);
    sq += e * e;
  }
  return [
    `Round trip decode(encode(x)) on the first ${n} images (each image its own solve, rtol = atol = 1e-5, no denoising step):`,
    `max |error| ${(255 * max).toFixed(3)} and RMS ${(255 * Math.sqrt(sq / x.length)).toFixed(4)} in 8-bit levels;`,
    `${encodeNfe} + ${decodeNfe} network calls (encode + decode), ${seconds.toFixed(1)} s.`,
  ].join(' ');
}

export async function runLikelihoodBench(): Promise<string> {
  const count = Number(process.env.SCORESDE_LIKELIHOOD_COUNT ?? 32);
  const batches = (process.env.SCORESDE_LIKELIHOOD_BATCHES ?? '1,8,32').split(',').map(Number);
  const s = await setup(count);
  const n = Math.min(count, s.dataset.length);
  const rows: string[] = [];
  let roundTripText = '';
  try {
    roundTripText = await roundTrip(s, Math.min(n, Number(process.env.SCORESDE_LIKELIHOOD_ROUNDTRIP ?? 16)));
    console.error(`[likelihood] ${roundTripText}`);
    const above = process.env.SCORESDE_LIKELIHOOD_GAUSSIAN_ABOVE;
    if (above !== undefined && !s.gaussian)
      throw new Error(`${s.label}: no gaussian.safetensors for the switch`);
    const switches = above === undefined ? [undefined] : [undefined, Number(above)];
    for (const batchSize of batches) {
      const b = Math.min(batchSize, n);
      const fn = await unetScoreVjp(s.unet, { batchSize: b });
      try {
        for (const gaussianAbove of switches) {
          const t0 = performance.now();
          const r = await datasetLikelihood(fn, s.dataset, {
            count: n,
            batchSize: b,
            sigmaMin: s.sigmaMin,
            sigmaMax: s.sigmaMax,
            generator: new Generator().manualSeed(0),
            ...(gaussianAbove === undefined ? {} : { gaussianAbove, gaussian: s.gaussian }),
          });
          const seconds = (performance.now() - t0) / 1000;
          rows.push(
            `| ${b} | ${gaussianAbove ?? '—'} | ${n} | ${(n / seconds).toFixed(2)} | ${(r.nfe / r.solves).toFixed(0)} | ${(r.networkCalls / n).toFixed(1)} | ${((1000 * seconds) / r.networkCalls).toFixed(1)} | ${r.mean.toFixed(3)} ± ${r.standardError.toFixed(3)} |`,
          );
          console.error(`[likelihood] batch ${b}: ${rows.at(-1)}`);
        }
      } finally {
        await fn.release();
      }
    }
  } finally {
    await s.release();
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return [
    `${s.label}; σ ∈ [${s.sigmaMin}, ${s.sigmaMax}], hutchinson-rademacher, rtol = atol = 1e-5, dequantized, one pass.`,
    `Machine: ${cpu}, ${availableParallelism()} threads, load average ${loadavg()[0].toFixed(1)} at the end.`,
    'Each image is its own ODE system, solved side by side with its batch: one network call (score + VJP graph) of',
    'B rows per RK45 stage, so a batch costs the rounds of its hardest image. "Gaussian above σ": the likelihood',
    'with `--gaussian-above σ` (docs/likelihood.md), solved right after the plain row in the same process.',
    '',
    '| batch | Gaussian above σ | images | images/s | NFE per solve | network calls per image | ms per call (score + VJP, whole batch, host maths included) | bits/dim (mean ± SE) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    roundTripText,
    '',
    'The full test-set table, beside baselines and published numbers, is the next section (bpd-table).',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await runLikelihoodBench());
}
