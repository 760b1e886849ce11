import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openImageDataset } from '../../src/data/index.js';
import { readImages } from '../../src/data/read-images.js';
import { DEFAULT_CLASSIFIER_CONFIG, parseClassifierConfig } from '../../src/evaluation/classifier/config.js';
import { classifierParameterShapes } from '../../src/evaluation/classifier/graph.js';
import { FashionMnistClassifier } from '../../src/evaluation/classifier/model.js';
import {
  initClassifierParameters,
  trainClassifier,
  trainingGraph,
} from '../../src/evaluation/classifier/train.js';
import { nchwcBlockSize, OnnxSession } from '../../src/onnx/session.js';
import { Tensor } from '../../src/tensor.js';
import { TINY_CLASSIFIER } from './helpers.js';

const fixtureDir = fileURLToPath(new URL('../fixtures/fashion-mnist', import.meta.url));
const TINY = TINY_CLASSIFIER;

const openFixture = (split: 'train' | 'test') =>
  openImageDataset(fixtureDir, { channels: 1, height: 28, width: 28, split });

describe('classifier graph', () => {
  it('maps (B, 1, 28, 28) to (B, feature_dim) features and (B, 10) logits, the same on every run', async () => {
    const test = await openFixture('test');
    const pixels = await readImages(test, 0, 5);
    const model = await FashionMnistClassifier.fromParameters(TINY, initClassifierParameters(TINY, 1));
    try {
      const a = await model.run(pixels, [5, 1, 28, 28], 2);
      assert.equal(a.features.length, 5 * 16);
      assert.equal(a.logits.length, 5 * 10);
      assert.ok(
        a.features.every((v) => v >= 0 && Number.isFinite(v)),
        'features are post-ReLU',
      );
      const b = await model.run(pixels, [5, 1, 28, 28], 5);
      assert.deepEqual(b, a, 'batching does not change the result');
      // A 32×32 RGB render of the same images (zero border, three equal channels) is cropped back exactly.
      const padded = new Float32Array(5 * 3 * 32 * 32);
      for (let n = 0; n < 5; n++)
        for (let c = 0; c < 3; c++)
          for (let y = 0; y < 28; y++)
            for (let x = 0; x < 28; x++)
              padded[((n * 3 + c) * 32 + y + 2) * 32 + x + 2] = pixels[(n * 28 + y) * 28 + x];
      assert.deepEqual(await model.run(padded, [5, 3, 32, 32]), a);
      await assert.rejects(
        model.run(new Float32Array(5 * 27 * 27), [5, 1, 27, 27]),
        /cannot be centre-cropped/,
      );
    } finally {
      await model.release();
    }
  });

  it('refuses weights whose names or shapes do not match the config, naming the parameter', async () => {
    const params = initClassifierParameters(TINY, 1);
    const wrong = new Map(params);
    wrong.set('fc1.bias', Tensor.zeros([3]));
    await assert.rejects(
      FashionMnistClassifier.fromParameters(TINY, wrong, 'w.safetensors'),
      /w\.safetensors: parameter "fc1\.bias" has shape \[3\]/,
    );
    const missing = new Map(params);
    missing.delete('conv2.weight');
    await assert.rejects(
      FashionMnistClassifier.fromParameters(TINY, missing),
      /missing parameter "conv2\.weight"/,
    );
    const extra = new Map(params);
    extra.set('conv9.weight', Tensor.zeros([1]));
    await assert.rejects(
      FashionMnistClassifier.fromParameters(TINY, extra),
      /unexpected parameter "conv9\.weight"/,
    );
    const nan = new Map(params);
    nan.set('fc2.bias', new Tensor('float32', new Float32Array(10).fill(Number.NaN), [10]));
    await assert.rejects(FashionMnistClassifier.fromParameters(TINY, nan), /"fc2\.bias" is not finite/);
  });

  it('validates config.json', () => {
    const ok = parseClassifierConfig({ ...DEFAULT_CLASSIFIER_CONFIG }, 'c.json');
    assert.deepEqual(ok, DEFAULT_CLASSIFIER_CONFIG);
    assert.throws(
      () => parseClassifierConfig({ ...DEFAULT_CLASSIFIER_CONFIG, feature_dim: 0 }, 'c.json'),
      /c\.json: feature_dim/,
    );
    assert.throws(
      () => parseClassifierConfig({ ...DEFAULT_CLASSIFIER_CONFIG, conv_strides: [1] }, 'c.json'),
      /differ in length/,
    );
    assert.throws(
      () => parseClassifierConfig({ ...DEFAULT_CLASSIFIER_CONFIG, class_names: ['a'] }, 'c.json'),
      /class_names/,
    );
  });
});

describe('classifier training graph', () => {
  it('computes the mean cross-entropy and its exact output-bias gradient mean(softmax − onehot)', async () => {
    const batch = 6;
    const test = await openFixture('test');
    const pixels = await readImages(test, 0, batch);
    const params = initClassifierParameters(TINY, 2);
    const onehot = new Float32Array(batch * 10);
    for (let i = 0; i < batch; i++) onehot[i * 10 + test.labels![i]] = 1;

    const { bytes, grads } = trainingGraph(TINY, batch);
    assert.deepEqual([...grads.keys()], [...classifierParameterShapes(TINY).keys()]);
    const session = await OnnxSession.create(bytes);
    const feeds: Record<string, Tensor> = {
      images: new Tensor('float32', pixels, [batch, 1, 28, 28]),
      onehot: new Tensor('float32', onehot, [batch, 10]),
    };
    for (const [name, p] of params) feeds[name] = p;
    const out = await session.run(feeds);
    await session.release();

    const model = await FashionMnistClassifier.fromParameters(TINY, params);
    const { logits } = await model.run(pixels, [batch, 1, 28, 28]);
    await model.release();
    let loss = 0;
    const dBias = new Float64Array(10);
    for (let i = 0; i < batch; i++) {
      const row = Array.from(logits.subarray(i * 10, (i + 1) * 10));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      loss -= row[test.labels![i]] - max - Math.log(z);
      row.forEach((v, k) => {
        dBias[k] += (Math.exp(v - max) / z - onehot[i * 10 + k]) / batch;
      });
    }
    loss /= batch;
    const got = (out.get('loss')!.data as Float32Array)[0];
    assert.ok(Math.abs(got - loss) < 1e-5 * Math.max(1, loss), `loss ${got} vs ${loss}`);
    const gb = out.get(grads.get('fc2.bias')!)!.data as Float32Array;
    for (let k = 0; k < 10; k++)
      assert.ok(Math.abs(gb[k] - dBias[k]) < 1e-6, `d/d fc2.bias[${k}]: ${gb[k]} vs ${dBias[k]}`);
  });

  it('gives the same loss and gradients on the blocked (NCHWc) convolutions', async (t) => {
    const block = await nchwcBlockSize();
    if (block === null) return t.skip('no NCHWc kernels here');
    const batch = 8;
    const test = await openFixture('test');
    const pixels = await readImages(test, 0, batch);
    const params = initClassifierParameters(TINY, 3);
    const onehot = new Float32Array(batch * 10);
    for (let i = 0; i < batch; i++) onehot[i * 10 + test.labels![i]] = 1;
    const feeds: Record<string, Tensor> = {
      images: new Tensor('float32', pixels, [batch, 1, 28, 28]),
      onehot: new Tensor('float32', onehot, [batch, 10]),
    };
    for (const [name, p] of params) feeds[name] = p;
    const results: { out: Map<string, Tensor>; grads: Map<string, string> }[] = [];
    for (const b of [null, block]) {
      const { bytes, grads } = trainingGraph(TINY, batch, b);
      const session = await OnnxSession.create(bytes);
      const out = await session.run(feeds);
      await session.release();
      results.push({ out, grads });
    }
    const [std, blk] = results;
    const loss = (r: (typeof results)[0]) => (r.out.get('loss')!.data as Float32Array)[0];
    assert.ok(Math.abs(loss(std) - loss(blk)) <= 1e-6 * loss(std), `loss ${loss(std)} vs ${loss(blk)}`);
    for (const name of std.grads.keys()) {
      const a = std.out.get(std.grads.get(name)!)!.data as Float32Array;
      const b = blk.out.get(blk.grads.get(name)!)!.data as Float32Array;
      let d = 0;
      let m = 0;
      for (let i = 0; i < a.length; i++) {
        d = Math.max(d, Math.abs(a[i] - b[i]));
        m = Math.max(m, Math.abs(a[i]));
      }
      assert.ok(d <= 1e-5 * m, `${name}: ${d} of ${m}`);
    }
  });

  it('lowers the training loss over a few Adam steps on the fixture images', async () => {
    const train = await openFixture('train');
    const losses: number[] = [];
    await trainClassifier({
      config: TINY,
      train,
      seed: 0,
      epochs: 2,
      batchSize: 32,
      lr: 3e-3,
      finalLrScale: 1,
      onStep: ({ loss }) => losses.push(loss),
    });
    assert.equal(losses.length, 16);
    const first = (losses[0] + losses[1]) / 2;
    const last = (losses[14] + losses[15]) / 2;
    assert.ok(last < 0.75 * first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  });
});
