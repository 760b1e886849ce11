/**
 * What a model's denoiser adds to the training data's Gaussian (Wiener) denoiser at each σ: the best blend
 * D_G + α·(D_c − D_G) of the Gaussian's denoiser D_G and the network's with the noise-norm correction D_c, its
 * weight α fitted on training images and its MSE measured on test images (÷ the Gaussian's). α ≈ 0 means the
 * network carries no information beyond the linear filter at that σ; α ≈ 1 that the Gaussian adds nothing.
 * Usage: node --import tsx tools/gaussian-blend.ts [MODEL_DIR] [IMAGES]   (default models/fashion-mnist, 512)
 */
import type { ImageDataset } from '../src/data/types.js';
import { loadGaussian } from '../src/diagnostics/statistics-file.js';
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.js';
import { gaussianDenoise } from '../src/math/gaussian.js';
import { ScoreSdeVePipeline } from '../src/pipelines/index.js';
import { Generator, randn } from '../src/random/index.js';
import { gaussianNormScore } from '../src/samplers/gaussian-switch.js';
import { Tensor } from '../src/tensor.js';

const [model = 'models/fashion-mnist', countArg = '512'] = process.argv.slice(2);
const n = Number(countArg);
const pipe = await ScoreSdeVePipeline.fromPretrained(model);
// A run's folder has no statistics of its own: the bundled model's are the same training data's.
const g = pipe.gaussian ?? (await loadGaussian('models/fashion-mnist/gaussian.safetensors'));
const { train, test } = await openFashionMnist(FASHION_MNIST_DIR);
const d = g.dim;
const generator = new Generator().manualSeed(0);

async function images(set: ImageDataset, offset: number): Promise<Float32Array> {
  const x0 = new Float32Array(n * d);
  for (let i = 0; i < n; i++) await set.read(offset + i, x0, i * d);
  return x0;
}

/** Errors D − x0 of the raw network, the corrected network and the Gaussian, at σ, on fresh noise. */
async function errors(x0: Float32Array, sigma: number) {
  const z = randn([n, d], { generator }).data as Float32Array;
  const x = x0.map((v, i) => v + sigma * z[i]);
  // The network's score, then the same score with the samplers' own noise-norm correction at every σ.
  const net = new Float32Array(n * d);
  const corrected = new Float32Array(n * d);
  for (let b = 0; b < n; b += 64) {
    const rows = Math.min(64, n - b);
    const xb = new Tensor('float32', x.slice(b * d, (b + rows) * d), [rows, 1, 28, 28]);
    const sigmas = new Float32Array(rows).fill(sigma);
    const score = await pipe.scoreFn(xb, sigmas);
    const fixed = await gaussianNormScore(async () => score, g, Number.MIN_VALUE)(xb, sigmas);
    const toDenoised = (s: Float32Array) => s.map((v, i) => xb.data[i] + sigma * sigma * v);
    net.set(toDenoised(score.data as Float32Array), b * d);
    corrected.set(toDenoised(fixed.data as Float32Array), b * d);
  }
  const gauss = gaussianDenoise(g, x, sigma);
  const minus = (a: Float32Array) => a.map((v, i) => v - x0[i]);
  return { raw: minus(net), corrected: minus(corrected), gauss: minus(gauss) };
}

/** The α minimising ‖e_G + α·(e_C − e_G)‖². */
function bestAlpha(eG: Float32Array, eC: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < eG.length; i++) {
    const diff = eC[i] - eG[i];
    num -= eG[i] * diff;
    den += diff * diff;
  }
  return num / den;
}

const mse = (e: Float32Array) => e.reduce((s, v) => s + v * v, 0) / e.length;
const [fitImages, testImages] = [await images(train, 1000), await images(test, 0)];
console.log(`${model}: α fitted on training images 1000…${1000 + n - 1}, MSE on test images 0…${n - 1}\n`);
console.log('| σ | raw ÷ Gaussian | corrected ÷ Gaussian | α | blend ÷ Gaussian |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const sigma of [50, 30, 20, 10, 5, 2, 1]) {
  const fit = await errors(fitImages, sigma);
  const alpha = bestAlpha(fit.gauss, fit.corrected);
  const e = await errors(testImages, sigma);
  const blend = e.gauss.map((v, i) => v + alpha * (e.corrected[i] - v));
  const ratio = (x: Float32Array) => (mse(x) / mse(e.gauss)).toFixed(3);
  console.log(
    `| ${sigma} | ${ratio(e.raw)} | ${ratio(e.corrected)} | ${alpha.toFixed(2)} | ${ratio(blend)} |`,
  );
}
await pipe.release();
