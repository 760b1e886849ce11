/** The committed Fashion-MNIST classifier (models/fashion-mnist-classifier) on the committed 256-image test subset. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CLASSIFIER_CONFIG } from '../../src/evaluation/classifier/config.js';
import {
  CLASSIFIER_WEIGHTS_NAME,
  defaultClassifierDir,
  FashionMnistClassifier,
} from '../../src/evaluation/classifier/model.js';
import { classifierAccuracy } from '../../src/evaluation/classifier/train.js';
import { openFashionMnist } from '../../src/evaluation/fashion-mnist.js';
import { loadSafetensors } from '../../src/io/safetensors.js';

const fixtureDir = fileURLToPath(new URL('../fixtures/fashion-mnist', import.meta.url));

describe('the shipped classifier', () => {
  it('loads from the package and is the default architecture', async () => {
    const model = await FashionMnistClassifier.fromPretrained();
    assert.deepEqual(model.config, DEFAULT_CLASSIFIER_CONFIG);
    await model.release();
  });

  it('classifies the 256 fixture test images about as well as the full test set (4 binomial σ below)', async () => {
    // The full 10k-image test accuracy, measured when training and stored in the weights' metadata.
    const { metadata } = await loadSafetensors(join(defaultClassifierDir(), CLASSIFIER_WEIGHTS_NAME));
    const full = Number(metadata.test_accuracy);
    assert.ok(full >= 0.9, `full test accuracy ${full}`);
    const { test } = await openFashionMnist(fixtureDir);
    const model = await FashionMnistClassifier.fromPretrained();
    try {
      const accuracy = await classifierAccuracy(model, test);
      const bound = full - 4 * Math.sqrt((full * (1 - full)) / test.length);
      assert.ok(
        accuracy >= bound,
        `accuracy ${accuracy} on ${test.length} images, bound ${bound.toFixed(3)}`,
      );
    } finally {
      await model.release();
    }
  });
});
