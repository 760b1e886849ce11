/**
 * The per-σ denoiser table: is a score model ready for deterministic samplers?
 *
 * For images x0 and fixed noise z (one draw, reused at every σ), x = x0 + σz, the model's denoiser
 * D(x) = x + σ²·score(x, σ) is scored by its mean squared error per value, next to two baselines:
 *   - the mean image (what E[x0 | x] tends to as σ → ∞);
 *   - the Gaussian denoiser fitted to the training data (gaussian.ts), the best linear denoiser.
 * A model whose denoiser is worse than the Gaussian one at some σ drives the probability-flow ODE (and every
 * deterministic sampler built on it) off the data there; stochastic samplers' fresh noise hides part of it.
 *
 * A third column takes out the one error a UNet2DModel cannot learn: the size of each image's noise draw
 * (samplers/gaussian-switch.ts, the noise-norm correction). It rescales each image's residual x − D(x) to the
 * Gaussian denoiser's residual norm, as `gaussianNormAbove` does in the samplers. At large σ the raw ratio is
 * dominated by that error and stays put while training improves everything else; the corrected ratio shows
 * the progress, and what a sampler with the correction gets.
 */

import { type GaussianStatistics, gaussianDenoise } from '../math/gaussian.js';
import { Generator, randn } from '../random/index.js';

/** σ values of the table, clipped to a model's range by {@link diagnosticSigmas}. */
export const DIAGNOSTIC_SIGMAS = Object.freeze([50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.01]);

/** The table's σ values inside [σ_min, σ_max], and σ_max itself when it is not one of them. */
export function diagnosticSigmas(sigmaMin: number, sigmaMax: number): number[] {
  const inside = DIAGNOSTIC_SIGMAS.filter((s) => s >= sigmaMin * (1 - 1e-9) && s <= sigmaMax * (1 + 1e-9));
  return inside.includes(sigmaMax) ? inside : [sigmaMax, ...inside];
}

/** D(x) for a batch: x is (B, C, H, W) row-major, one σ for the whole batch. */
export type Denoiser = (
  x: Float32Array,
  dims: readonly [number, number, number, number],
  sigma: number,
) => Promise<Float32Array>;

export interface PerSigmaRow {
  sigma: number;
  /** Mean squared error of the model's denoiser, per value. */
  model: number;
  /** … of the mean image. */
  meanImage: number;
  /** … of the Gaussian denoiser. */
  gaussian: number;
  /** model ÷ gaussian: above 1, the network is worse than a linear filter at this σ. */
  ratio: number;
  /** MSE of the model's denoiser with each image's residual x − D rescaled to the Gaussian's residual norm. */
  normCorrected: number;
  /** normCorrected ÷ gaussian. */
  normCorrectedRatio: number;
}

export interface PerSigmaReport {
  rows: PerSigmaRow[];
  /** Images measured. */
  count: number;
  /** Which Gaussian: 'full' covariance or 'low-rank'. */
  gaussianKind: GaussianStatistics['kind'];
  /** True when the model beats the Gaussian denoiser at every σ of the table. */
  beatsGaussianEverywhere: boolean;
  /** The largest σ where it does not (undefined when it beats it everywhere). */
  worstSigma?: number;
}

export interface PerSigmaOptions {
  denoise: Denoiser;
  /** Clean images, (N, C, H, W) row-major, values as the model was trained on. */
  images: Float32Array;
  /** (C, H, W) of one image. */
  imageShape: readonly [number, number, number];
  statistics: GaussianStatistics;
  sigmas: readonly number[];
  /** Seeds the fixed noise z (torch.Generator().manual_seed(seed), randn of the whole set). Default 0. */
  seed?: number;
  /** Images per model call (default 64). */
  batchSize?: number;
  /** Called after each model call. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Measures the table (see the module comment). */
export async function perSigmaReport(o: PerSigmaOptions): Promise<PerSigmaReport> {
  const [c, h, w] = o.imageShape;
  const d = c * h * w;
  const n = o.images.length / d;
  if (!(Number.isInteger(n) && n >= 1))
    throw new RangeError(`perSigmaReport: ${o.images.length} values are not whole images of ${c}×${h}×${w}`);
  if (o.statistics.dim !== d)
    throw new RangeError(
      `perSigmaReport: the Gaussian has ${o.statistics.dim} values per image, the images ${d}`,
    );
  const batch = o.batchSize ?? 64;
  const z = randn([n, c, h, w], { generator: new Generator().manualSeed(o.seed ?? 0) }).data as Float32Array;
  let meanImage = 0;
  for (let i = 0; i < n * d; i++) meanImage += (o.statistics.mean[i % d] - o.images[i]) ** 2;
  meanImage /= n * d;
  const calls = Math.ceil(n / batch) * o.sigmas.length;
  let done = 0;
  const rows: PerSigmaRow[] = [];
  for (const sigma of o.sigmas) {
    let model = 0;
    let gaussian = 0;
    let normCorrected = 0;
    for (let start = 0; start < n; start += batch) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
      const b = Math.min(batch, n - start);
      const x0 = o.images.subarray(start * d, (start + b) * d);
      const x = new Float32Array(b * d);
      for (let i = 0; i < b * d; i++) x[i] = x0[i] + sigma * z[start * d + i];
      const dm = await o.denoise(x, [b, c, h, w], sigma);
      const dg = gaussianDenoise(o.statistics, x, sigma);
      for (let i = 0; i < b * d; i++) {
        model += (dm[i] - x0[i]) ** 2;
        gaussian += (dg[i] - x0[i]) ** 2;
      }
      for (let r = 0; r < b; r++) {
        const [lo, hi] = [r * d, (r + 1) * d];
        const k = Math.sqrt(squaredDistance(x, dg, lo, hi) / squaredDistance(x, dm, lo, hi));
        for (let i = lo; i < hi; i++) normCorrected += (x[i] - k * (x[i] - dm[i]) - x0[i]) ** 2;
      }
      o.onProgress?.(++done, calls);
    }
    model /= n * d;
    gaussian /= n * d;
    normCorrected /= n * d;
    rows.push({
      sigma,
      model,
      meanImage,
      gaussian,
      ratio: model / gaussian,
      normCorrected,
      normCorrectedRatio: normCorrected / gaussian,
    });
  }
  const failing = rows.filter((r) => !(r.ratio <= 1));
  return {
    rows,
    count: n,
    gaussianKind: o.statistics.kind,
    beatsGaussianEverywhere: failing.length === 0,
    worstSigma: failing.length ? Math.max(...failing.map((r) => r.sigma)) : undefined,
  };
}

/** What the noise-norm correction leaves above σ = 1, where the samplers use it (" …" or ""). */
function correctedVerdict(rows: readonly PerSigmaRow[]): string {
  const above = rows.filter((x) => x.sigma >= 1);
  if (above.length === 0) return '';
  const worst = Math.max(...above.map((x) => x.normCorrectedRatio));
  return ` With the noise-norm correction above σ = 1 (--gaussian-norm-above 1), at most ${worst.toFixed(2)}× the Gaussian's error at σ ≥ 1.`;
}

/** Σ (a[i] − b[i])² over [lo, hi). */
function squaredDistance(a: Float32Array, b: Float32Array, lo: number, hi: number): number {
  let sum = 0;
  for (let i = lo; i < hi; i++) sum += (a[i] - b[i]) ** 2;
  return sum;
}

/** The table as Markdown, with a one-line verdict. */
export function formatPerSigmaReport(r: PerSigmaReport): string {
  const lines = [
    `| σ | denoiser MSE | mean image | Gaussian denoiser (${r.gaussianKind}) | ÷ Gaussian | noise-norm corrected ÷ Gaussian |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...r.rows.map(
      (x) =>
        `| ${x.sigma} | ${x.model.toPrecision(3)} | ${x.meanImage.toPrecision(3)} | ${x.gaussian.toPrecision(3)} | ${x.ratio.toFixed(2)} | ${x.normCorrectedRatio.toFixed(2)} |`,
    ),
    '',
    r.beatsGaussianEverywhere
      ? `The denoiser beats the Gaussian one at every σ (${r.count} images): deterministic samplers should work.`
      : `The denoiser is worse than the Gaussian one up to σ = ${r.worstSigma} (${r.count} images): expect deterministic samplers (dpmpp-2m, ode, heun without churn) to leave noise; use pc or heun with churn.${correctedVerdict(r.rows)}`,
  ];
  return lines.join('\n');
}
