import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readImages } from '../../src/data/read-images.js';
import { FashionMnistClassifier } from '../../src/evaluation/classifier/model.js';
import { initClassifierParameters } from '../../src/evaluation/classifier/train.js';
import { Evaluator } from '../../src/evaluation/evaluator.js';
import { openFashionMnist } from '../../src/evaluation/fashion-mnist.js';
import { quantize8Bit } from '../../src/evaluation/images.js';
import { expectedUniformTotalVariation } from '../../src/evaluation/label-histogram.js';
import { TINY_CLASSIFIER } from './helpers.js';

const fixtureDir = fileURLToPath(new URL('../fixtures/fashion-mnist', import.meta.url));

describe('Evaluator on the Fashion-MNIST fixture (256 train, 256 test images)', () => {
  let classifier: FashionMnistClassifier;
  let evaluator: Evaluator;
  let data: Awaited<ReturnType<typeof openFashionMnist>>;
  before(async () => {
    // Random weights suffice: these tests check the bookkeeping, not the features' quality.
    const config = TINY_CLASSIFIER;
    classifier = await FashionMnistClassifier.fromParameters(config, initClassifierParameters(config, 5));
    data = await openFashionMnist(fixtureDir);
    evaluator = await Evaluator.create({ classifier, ...data });
  });
  after(() => classifier.release());

  it('scores the test set itself as FD 0, and the training images exactly at the floor', async () => {
    const test = await readImages(data.test, 0, 256);
    const self = await evaluator.evaluateSamples(test, [256, 1, 28, 28]);
    assert.ok(Math.abs(self.frechetDistance) < 1e-9, `FD(test, test) = ${self.frechetDistance}`);
    const train = await readImages(data.train, 0, 100);
    const r = await evaluator.report(train, [100, 1, 28, 28]);
    assert.equal(r.frechetDistance, r.floorFrechetDistance);
    assert.ok(r.floorFrechetDistance > 0);
    // The histogram's floor is the same images' TV; the uniform expectation is the closed form at 100 labels.
    assert.equal(r.labelHistogram.totalVariation, r.floorTotalVariation);
    assert.equal(r.uniformTotalVariation, expectedUniformTotalVariation(100, 10));
    assert.equal(r.referenceCount, 256);
  });

  it('flags copies of training images: nearest-training distance 0, unlike test images', async () => {
    const train = await readImages(data.train, 10, 50);
    const r = await evaluator.report(train, [50, 1, 28, 28]);
    assert.deepEqual(r.nearestTrain, { mean: 0, median: 0, p01: 0, min: 0 });
    assert.ok(r.testNearestTrain.min > 1, `test images are not copies (min ${r.testNearestTrain.min})`);
  });

  it('gives the same numbers for a 32×32 RGB render of the images, and quantises unrounded values', async () => {
    const n = 40;
    const test = await readImages(data.test, 0, n);
    const base = await evaluator.report(test, [n, 1, 28, 28]);
    const rgb = new Float32Array(n * 3 * 32 * 32);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 28; y++)
          for (let x = 0; x < 28; x++)
            // Off-grid by less than half a level: rounds back to the same 8-bit value.
            rgb[((i * 3 + c) * 32 + y + 2) * 32 + x + 2] = test[(i * 28 + y) * 28 + x] + 0.4 / 255;
    const r = await evaluator.report(rgb, [n, 3, 32, 32]);
    assert.deepEqual(r, base);
  });

  it('computes the label histogram from the classifier’s predictions and counts NaN pixels', async () => {
    const test = await readImages(data.test, 0, 30);
    test[5] = Number.NaN;
    const r = await evaluator.evaluateSamples(test, [30, 1, 28, 28]);
    assert.equal(r.nonFinitePixels, 1);
    assert.equal(
      r.labelHistogram.counts.reduce((a, b) => a + b, 0),
      30,
    );
    assert.equal(r.labelHistogram.classNames.length, 10);
  });

  it('quantize8Bit clamps, rounds to k/255 and maps NaN to 0', () => {
    const q = quantize8Bit(Float32Array.from([-0.5, 0.5, 1.7, Number.NaN, 10.4 / 255, 10.6 / 255]));
    assert.deepEqual([...q], [0, Math.fround(128 / 255), 1, 0, Math.fround(10 / 255), Math.fround(11 / 255)]);
  });
});
