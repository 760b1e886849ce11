#!/usr/bin/env node
// Trains the Fashion-MNIST classifier that `scoresde evaluate` measures Fréchet distances with, and writes
// models/fashion-mnist-classifier/{config.json, model.safetensors}. The shipped weights came from:
//   node --import tsx scripts/train-classifier.mjs --seed 0 --epochs 4
// with Adam's moments then in float64 (now the trainer's float32 Adam: a rerun differs slightly; see the model card).
// Needs the full data set: apt-get install -y dataset-fashion-mnist (as root) → /usr/share/datasets/fashion-mnist.
// Options: --data <dir>  --out <dir>  --seed <n>  --epochs <n>  --batch-size <n>  --lr <x>
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CLASSIFIER_CONFIG } from '../src/evaluation/classifier/config.ts';
import { FashionMnistClassifier } from '../src/evaluation/classifier/model.ts';
import { classifierAccuracy, trainClassifier } from '../src/evaluation/classifier/train.ts';
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { saveSafetensors } from '../src/io/safetensors.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: FASHION_MNIST_DIR },
    out: { type: 'string', default: 'models/fashion-mnist-classifier' },
    seed: { type: 'string', default: '0' },
    epochs: { type: 'string', default: '4' },
    'batch-size': { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.001' },
  },
});
const seed = Number(values.seed);
const epochs = Number(values.epochs);
const batchSize = Number(values['batch-size']);
const lr = Number(values.lr);
const config = DEFAULT_CLASSIFIER_CONFIG;

const { train, test } = await openFashionMnist(values.data);
const t0 = performance.now();
let smoothed;
const params = await trainClassifier({
  config,
  train,
  seed,
  epochs,
  batchSize,
  lr,
  onStep: ({ step, totalSteps, epoch, loss }) => {
    smoothed = smoothed === undefined ? loss : 0.98 * smoothed + 0.02 * loss;
    if (step % 50 === 0 || step === totalSteps) {
      const s = ((performance.now() - t0) / 1000).toFixed(0);
      console.error(`step ${step}/${totalSteps} epoch ${epoch + 1} loss ${smoothed.toFixed(4)} ${s} s`);
    }
  },
});
const seconds = (performance.now() - t0) / 1000;
const classifier = await FashionMnistClassifier.fromParameters(config, params);
const testAccuracy = await classifierAccuracy(classifier, test);
const trainAccuracy = await classifierAccuracy(classifier, train, 10000);
await classifier.release();
const steps = epochs * Math.floor(train.length / batchSize);
console.error(
  `test accuracy ${(100 * testAccuracy).toFixed(2)}% (train, first 10k: ${(100 * trainAccuracy).toFixed(2)}%), ${steps} steps, ${seconds.toFixed(0)} s`,
);

await mkdir(values.out, { recursive: true });
await writeFileAtomic(
  join(values.out, 'config.json'),
  `${JSON.stringify({ _class_name: 'FashionMnistClassifier', ...config }, null, 2)}\n`,
);
await saveSafetensors(join(values.out, 'model.safetensors'), params, {
  seed: String(seed),
  epochs: String(epochs),
  steps: String(steps),
  batch_size: String(batchSize),
  lr: String(lr),
  test_accuracy: testAccuracy.toFixed(4),
  train_seconds: seconds.toFixed(0),
  threads: String(availableParallelism()),
});
console.error(`wrote ${values.out}`);
