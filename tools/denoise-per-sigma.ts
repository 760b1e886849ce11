/**
 * How well a VE score model denoises at each noise level: for test images x0 and x = x0 + σz, the denoiser
 * D(x) = x + σ²·score(x, σ) should approach E[x0 | x]. Prints, per σ, the mean squared error of D per pixel
 * next to two baselines: the data-mean predictor (the training set's mean image; what E[x0 | x] tends to as
 * σ → ∞) and the identity D = x (σ² per pixel). A model whose D is worse than the data mean at large σ sends
 * deterministic samplers (probability-flow ODE, Heun, DPM-Solver++) astray from the first step; the
 * predictor–corrector sampler's Langevin steps correct it. Also prints the training objective's per-σ term,
 * ‖σ·score + z‖² / D.
 * Usage: node --import tsx tools/denoise-per-sigma.ts [MODEL_DIR] [IMAGES]
 *   MODEL_DIR: a pipeline folder or its unet/ (default models/fashion-mnist); IMAGES: test images (default 256)
 */
import { existsSync } from 'node:fs';
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.js';
import { UNet2DModel } from '../src/models/unet-2d/index.js';
import { Generator, randn } from '../src/random/index.js';
import { Tensor } from '../src/tensor.js';

const [model = 'models/fashion-mnist', countArg = '256'] = process.argv.slice(2);
const unet = await UNet2DModel.fromPretrained(existsSync(`${model}/unet`) ? `${model}/unet` : model);
const { train, test } = await openFashionMnist(FASHION_MNIST_DIR);
const n = Number(countArg);
const d = test.channels * test.height * test.width;
const batch = 64;

// The training set's mean image.
const mean = new Float64Array(d);
const row = new Float32Array(d);
for (let i = 0; i < train.length; i++) {
  await train.read(i, row);
  for (let k = 0; k < d; k++) mean[k] += row[k] / train.length;
}

const sigmas = [50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01];
const generator = new Generator().manualSeed(0);
console.log('| σ | MSE of D(x) per pixel | data-mean predictor | identity (σ²) | ‖σ·score + z‖² / D |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const sigma of sigmas) {
  let mse = 0;
  let meanMse = 0;
  let objective = 0;
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const x0 = new Float32Array(b * d);
    for (let i = 0; i < b; i++) await test.read(start + i, x0, i * d);
    const z = randn([b, test.channels, test.height, test.width], { generator }).data;
    const x = x0.map((v, k) => v + sigma * z[k]);
    const score = (
      await unet.forward(new Tensor('float32', x, [b, test.channels, test.height, test.width]), sigma)
    ).sample.data as Float32Array;
    for (let k = 0; k < b * d; k++) {
      const err = x[k] + sigma * sigma * score[k] - x0[k];
      mse += err * err;
      const m = mean[k % d] - x0[k];
      meanMse += m * m;
      const e = sigma * score[k] + z[k];
      objective += e * e;
    }
  }
  const per = n * d;
  console.log(
    `| ${sigma} | ${(mse / per).toPrecision(3)} | ${(meanMse / per).toPrecision(3)} | ${(sigma * sigma).toPrecision(3)} | ${(objective / per).toPrecision(3)} |`,
  );
}
await unet.release();
