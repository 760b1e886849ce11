/**
 * Training the evaluation classifier with scoresde's own reverse-mode autodiff: the forward graph with the
 * parameters as graph inputs, softmax cross-entropy, `grad()` appended, one onnxruntime session run per
 * step, and the trainer's Adam (torch.optim.Adam's defaults, float32 as torch) on the host.
 */
import { readImages } from '../../data/read-images.js';
import type { ImageDataset } from '../../data/types.js';
import { Adam } from '../../gradients/adam.js';
import { grad } from '../../onnx/autodiff/grad.js';
import { GraphBuilder } from '../../onnx/graph.js';
import { lowerConvsToNchwc } from '../../onnx/nchwc.js';
import { type ConvPathOption, OnnxSession, resolveConvPath } from '../../onnx/session.js';
import { Generator, randn } from '../../random/index.js';
import { Tensor } from '../../tensor.js';
import { topOneAccuracy } from '../label-histogram.js';
import type { ClassifierConfig } from './config.js';
import { buildClassifier, classifierParameterShapes } from './graph.js';
import type { FashionMnistClassifier } from './model.js';

export interface TrainClassifierOptions {
  config: ClassifierConfig;
  train: ImageDataset;
  /** Seeds the initial weights and the shuffling. */
  seed: number;
  /** Passes over the training set (the last, partial batch of each is dropped). */
  epochs: number;
  batchSize?: number;
  /** Adam learning rate; multiplied by `finalLrScale` over the last epoch (default 1e-3, 0.1). */
  lr?: number;
  finalLrScale?: number;
  /** Train on the first `limit` images only (tests). */
  limit?: number;
  /**
   * The convolution kernels of the training graph (as DsmGraphOptions.convPath): 'auto' (default), 'blocked'
   * (onnxruntime's NCHWc kernels) or 'standard' (as earlier versions trained, bit for bit: the classifier has
   * no composite ops).
   */
  convPath?: ConvPathOption;
  onStep?: (info: { step: number; totalSteps: number; epoch: number; loss: number }) => void;
  signal?: AbortSignal;
}

/** He-normal weights N(0, 2 / fan_in) (ReLU layers) from one seeded generator in parameter order; zero biases. */
export function initClassifierParameters(
  config: ClassifierConfig,
  seed: number,
): Map<string, Tensor<'float32'>> {
  const generator = new Generator().manualSeed(seed);
  const params = new Map<string, Tensor<'float32'>>();
  for (const [name, dims] of classifierParameterShapes(config)) {
    if (name.endsWith('.bias')) {
      params.set(name, Tensor.zeros(dims));
      continue;
    }
    const fanIn = dims.slice(1).reduce((a, b) => a * b, 1);
    const w = randn(dims, { generator });
    const scale = Math.sqrt(2 / fanIn);
    for (let i = 0; i < w.data.length; i++) w.data[i] *= scale;
    params.set(name, w);
  }
  return params;
}

/**
 * The training step graph: (images, one-hot labels, parameters) → (loss, d loss / d each parameter). With
 * `nchwcBlock` (the probed block size) its convolutions run on onnxruntime's blocked NCHWc kernels.
 */
export function trainingGraph(
  config: ClassifierConfig,
  batchSize: number,
  nchwcBlock: number | null = null,
): { bytes: Uint8Array; grads: Map<string, string> } {
  const g = new GraphBuilder('classifier_training');
  const s = config.sample_size;
  const x = g.input('images', 'float32', [batchSize, config.in_channels, s, s]);
  const onehot = g.input('onehot', 'float32', [batchSize, config.num_classes]);
  const names: string[] = [];
  const { logits } = buildClassifier(g, x, config, (name, dims) => {
    names.push(name);
    return g.input(name, 'float32', dims);
  });
  const logp = g.op('LogSoftmax', [logits], { axis: { type: 'int', value: 1 } }, g.shape(logits));
  // Mean cross-entropy: −Σ onehot · log p / B.
  const total = g.reduceSum(g.mul(onehot, logp), [0, 1], false);
  const loss = g.mul(total, g.constFloat([-1 / batchSize], []));
  g.output(loss, 'loss');
  const grads = grad(g, loss, names, { nchwcBlock });
  const outputs = new Map<string, string>();
  for (const name of names) outputs.set(name, g.output(grads.get(name)!, `grad.${name}`));
  if (nchwcBlock !== null) lowerConvsToNchwc(g, nchwcBlock);
  return { bytes: g.toModelBytes(), grads: outputs };
}

/** The graph's image and one-hot label inputs for the images at `indices` of `pixels` (N, C, S, S). */
function batchFeeds(
  config: ClassifierConfig,
  pixels: Float32Array,
  labels: Uint8Array,
  indices: Int32Array,
): Record<string, Tensor> {
  const b = indices.length;
  const { in_channels: c, sample_size: s, num_classes: k } = config;
  const size = c * s * s;
  const images = new Float32Array(b * size);
  const onehot = new Float32Array(b * k);
  indices.forEach((idx, row) => {
    images.set(pixels.subarray(idx * size, (idx + 1) * size), row * size);
    onehot[row * k + labels[idx]] = 1;
  });
  return {
    images: new Tensor('float32', images, [b, c, s, s]),
    onehot: new Tensor('float32', onehot, [b, k]),
  };
}

/**
 * Trains from scratch; returns the final parameters. Deterministic for a given seed, thread count and
 * convolution path.
 */
export async function trainClassifier(
  options: TrainClassifierOptions,
): Promise<Map<string, Tensor<'float32'>>> {
  const { config, train, seed, epochs, batchSize = 128, lr = 1e-3, finalLrScale = 0.1 } = options;
  if (!train.labels) throw new RangeError(`${train.source}: training the classifier needs labels`);
  const s = config.sample_size;
  if (train.channels !== config.in_channels || train.height !== s || train.width !== s)
    throw new RangeError(`${train.source}: the classifier takes ${config.in_channels}×${s}×${s} images`);
  const n = Math.min(options.limit ?? train.length, train.length);
  const perEpoch = Math.floor(n / batchSize);
  if (perEpoch < 1) throw new RangeError(`need at least one batch of ${batchSize} images, have ${n}`);
  const pixels = await readImages(train, 0, n, { signal: options.signal });
  const labels = train.labels;

  const params = initClassifierParameters(config, seed);
  const conv = await resolveConvPath(options.convPath);
  const { bytes, grads } = trainingGraph(config, batchSize, conv.block);
  const session = await OnnxSession.create(bytes);
  const shuffle = new Generator().manualSeed(seed + 1);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const names = [...params.keys()];
  const adam = new Adam(names.map((name) => params.get(name)!.data.length));
  const weights = names.map((name) => params.get(name)!.data);
  const totalSteps = epochs * perEpoch;
  try {
    let step = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      // Fisher–Yates with the seeded generator.
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(shuffle.nextDouble() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const epochLr = epoch === epochs - 1 && epochs > 1 ? lr * finalLrScale : lr;
      for (let b = 0; b < perEpoch; b++) {
        options.signal?.throwIfAborted();
        const feeds = batchFeeds(config, pixels, labels, order.subarray(b * batchSize, (b + 1) * batchSize));
        for (const [name, p] of params) feeds[name] = p;
        const out = await session.run(feeds);
        const g = names.map((name) => out.get(grads.get(name)!)!.data as Float32Array);
        adam.step(weights, g, epochLr);
        step++;
        const loss = (out.get('loss')!.data as Float32Array)[0];
        if (!Number.isFinite(loss))
          throw new Error(`classifier training diverged at step ${step} (loss ${loss})`);
        options.onStep?.({ step, totalSteps, epoch, loss });
      }
    }
  } finally {
    await session.release();
  }
  return params;
}

/** Top-1 accuracy of `classifier` on the first `limit` images of a labelled data set. */
export async function classifierAccuracy(
  classifier: FashionMnistClassifier,
  data: ImageDataset,
  limit = data.length,
): Promise<number> {
  if (!data.labels) throw new RangeError(`${data.source}: accuracy needs labels`);
  const n = Math.min(limit, data.length);
  const pixels = await readImages(data, 0, n);
  const { logits } = await classifier.run(pixels, [n, data.channels, data.height, data.width]);
  return topOneAccuracy(logits, classifier.config.num_classes, data.labels);
}
