/**
 * Where a model's denoiser error lies at each σ: the share of ‖D(x) − x0‖² along each image's own noise draw z,
 * and the spread over images of the error in the noise's size (the factor by which the network's estimate of z
 * is too large or too small). A spread equal to ‖z‖'s own, 1/√(2d), means the network cannot see the size of
 * the draw (model card of models/fashion-mnist: "Why a UNet2DModel cannot see the size of the noise"); the
 * samplers' `--gaussian-norm-above` corrects it.
 * Usage: node --import tsx tools/noise-size-error.ts [MODEL_DIR] [IMAGES]   (default models/fashion-mnist, 256)
 */
import { existsSync } from 'node:fs';
import { unetDenoiser } from '../src/diagnostics/index.js';
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.js';
import { UNet2DModel } from '../src/models/unet-2d/index.js';
import { Generator, randn } from '../src/random/index.js';

const [model = 'models/fashion-mnist', countArg = '256'] = process.argv.slice(2);
const unet = await UNet2DModel.fromPretrained(existsSync(`${model}/unet`) ? `${model}/unet` : model);
const { test } = await openFashionMnist(FASHION_MNIST_DIR);
const n = Number(countArg);
const d = test.channels * test.height * test.width;
const x0 = new Float32Array(n * d);
for (let i = 0; i < n; i++) await test.read(i, x0, i * d);
const denoise = unetDenoiser(unet);
const generator = new Generator().manualSeed(0);
console.log(
  `${model}, ${n} test images; the spread of ‖z‖ itself is 1/√(2d) = ${(100 / Math.sqrt(2 * d)).toFixed(2)} %\n`,
);
console.log('| σ | denoiser MSE | share along z | noise-size error: mean | spread |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const sigma of [50, 20, 10, 5, 2, 1]) {
  const z = randn([n, d], { generator }).data as Float32Array;
  const x = x0.map((v, i) => v + sigma * z[i]);
  const dx = new Float32Array(n * d);
  for (let b = 0; b < n; b += 64) {
    const rows = Math.min(64, n - b);
    dx.set(
      await denoise(x.subarray(b * d, (b + rows) * d), [rows, test.channels, test.height, test.width], sigma),
      b * d,
    );
  }
  let total = 0;
  let alongZ = 0;
  const factors: number[] = [];
  for (let i = 0; i < n; i++) {
    let ez = 0;
    let zz = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      const e = dx[j] - x0[j];
      ez += e * z[j];
      zz += z[j] * z[j];
      total += e * e;
    }
    alongZ += (ez * ez) / zz;
    // D − x0 = −σ(ẑ − z): the component along z is −σ·(factor − 1)·z.
    factors.push(-ez / zz / sigma);
  }
  const mean = factors.reduce((s, f) => s + f, 0) / n;
  const spread = Math.sqrt(factors.reduce((s, f) => s + (f - mean) ** 2, 0) / n);
  console.log(
    `| ${sigma} | ${(total / (n * d)).toPrecision(3)} | ${((100 * alongZ) / total).toFixed(1)} % | ${(100 * mean).toFixed(2)} % | ${(100 * spread).toFixed(2)} % |`,
  );
}
await unet.release();
