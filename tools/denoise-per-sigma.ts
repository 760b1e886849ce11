/**
 * The per-σ denoiser table of a Fashion-MNIST model (src/diagnostics/per-sigma.ts): the model's denoiser
 * D(x) = x + σ²·score against the mean image and the Gaussian (Wiener) denoiser of the 60,000 training
 * images, on the first N test images with fixed noise (seed 0). The Gaussian is cached in bench/.cache.
 * Usage: node --import tsx tools/denoise-per-sigma.ts [MODEL_DIR] [IMAGES] [--json OUT]
 *   MODEL_DIR: a pipeline folder or its unet/ (default models/fashion-mnist); IMAGES: test images (default 1000)
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import {
  diagnosticSigmas,
  fitDatasetGaussian,
  formatPerSigmaReport,
  loadGaussian,
  perSigmaReport,
  saveGaussian,
  unetDenoiser,
} from '../src/diagnostics/index.js';
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.js';
import { UNet2DModel } from '../src/models/unet-2d/index.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : undefined;
const [model = 'models/fashion-mnist', countArg = '1000'] = args;
const unet = await UNet2DModel.fromPretrained(existsSync(`${model}/unet`) ? `${model}/unet` : model);
const { train, test } = await openFashionMnist(FASHION_MNIST_DIR);
const cache = 'bench/.cache/fashion-mnist-gaussian.safetensors';
let gaussian = existsSync(cache) ? await loadGaussian(cache) : undefined;
if (!gaussian) {
  console.error('fitting the Gaussian to the 60,000 training images …');
  gaussian = await fitDatasetGaussian(train);
  await mkdir('bench/.cache', { recursive: true });
  await saveGaussian(cache, gaussian);
}
const n = Number(countArg);
const d = test.channels * test.height * test.width;
const images = new Float32Array(n * d);
for (let i = 0; i < n; i++) await test.read(i, images, i * d);
const sigmas = diagnosticSigmas(0.01, 50);
const report = await perSigmaReport({
  denoise: unetDenoiser(unet),
  images,
  imageShape: [test.channels, test.height, test.width],
  statistics: gaussian,
  sigmas,
  onProgress: (done, total) => process.stderr.write(`\r${done}/${total}`),
});
process.stderr.write('\n');
console.log(`${model}, ${n} test images:\n`);
console.log(formatPerSigmaReport(report));
if (jsonOut) await writeFile(jsonOut, `${JSON.stringify({ model, ...report }, null, 1)}\n`);
await unet.release();
