/**
 * Judging generated Fashion-MNIST images against the real data, the four numbers of the evaluation:
 *   - Fréchet distance (FD) to the test set in the classifier's feature space,
 *   - its floor: the FD of as many real training images against the same test set,
 *   - the classifier's label histogram of the samples against uniform,
 *   - the memorisation check: each sample's nearest training image (L2 in pixels) against the same for test images.
 * The test-set statistics and the training pixels are read once and reused across calls (the sampler
 * bench evaluates many sample sets against one reference).
 */
import { imageSize, type ReadImagesOptions, readImages } from '../data/read-images.js';
import type { ImageDataset } from '../data/types.js';
import type { FashionMnistClassifier } from './classifier/model.js';
import { frechetDistance } from './frechet.js';
import { centreCropChannels, quantize8Bit } from './images.js';
import {
  argmaxRows,
  expectedUniformTotalVariation,
  type LabelHistogram,
  labelHistogram,
  topOneAccuracy,
} from './label-histogram.js';
import { type DistanceSummary, nearestNeighbours, summariseDistances } from './nearest-neighbour.js';
import { type FeatureStatistics, featureStatistics } from './statistics.js';

/** Which long stage is running, for a progress bar. */
export type EvaluationStage =
  | 'test features'
  | 'train features'
  | 'sample features'
  | 'nearest neighbours'
  | 'read train'
  | 'read test';

export interface EvaluatorOptions {
  classifier: FashionMnistClassifier;
  /** Training images: the floor and the memorisation check. */
  train: ImageDataset;
  /** Test images: the FD reference. */
  test: ImageDataset;
  /** Test images in the reference statistics (default: all). */
  referenceCount?: number;
  onProgress?: (stage: EvaluationStage, done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface SampleEvaluation {
  count: number;
  /** FD of the samples against the test set. */
  frechetDistance: number;
  labelHistogram: LabelHistogram & { classNames: string[] };
  /** Distance of each sample to its nearest training image, summarised. */
  nearestTrain: DistanceSummary;
  /** Pixels that were NaN (set to 0 before measuring; a healthy sampler has none). */
  nonFinitePixels: number;
}

export interface EvaluationReport extends SampleEvaluation {
  /** Test images in the FD reference. */
  referenceCount: number;
  /** The floor: FD of `count` training images against the same test set. */
  floorFrechetDistance: number;
  /** The histogram's floor: TV to uniform of the classifier's labels on the same `count` training images. */
  floorTotalVariation: number;
  /** What `count` labels drawn from exactly uniform score on average (sampling noise alone). */
  uniformTotalVariation: number;
  /** Nearest-training-image distances of min(count, test size) test images: what no memorisation looks like. */
  testNearestTrain: DistanceSummary;
  /** The classifier's accuracy on the reference test images (when the data set has labels). */
  classifierTestAccuracy?: number;
}

/** readImages' options that report `stage` to the evaluator's progress callback. */
const reading = (options: EvaluatorOptions, stage: EvaluationStage): ReadImagesOptions => ({
  signal: options.signal,
  onProgress: (done, total) => options.onProgress?.(stage, done, total),
});

/** What real training images score at a count: the numbers a sample set is compared with. */
export interface Floor {
  frechetDistance: number;
  /** TV to uniform of the classifier's labels on those images. */
  totalVariation: number;
}

export class Evaluator {
  private trainPixels?: Float32Array;
  private readonly floors = new Map<number, Floor>();
  private readonly testDistances = new Map<number, DistanceSummary>();

  private constructor(
    private readonly options: EvaluatorOptions,
    readonly reference: FeatureStatistics,
    readonly referenceCount: number,
    readonly classifierTestAccuracy: number | undefined,
  ) {}

  /** Reads the test set once and fits the reference statistics. */
  static async create(options: EvaluatorOptions): Promise<Evaluator> {
    const { test, train, classifier } = options;
    if (train.channels !== test.channels || train.height !== test.height || train.width !== test.width)
      throw new RangeError(`${train.source}: image size differs from the test set ${test.source}`);
    const referenceCount = Math.min(options.referenceCount ?? test.length, test.length);
    if (referenceCount < 2) throw new RangeError(`${test.source}: need at least 2 test images`);
    const pixels = await readImages(test, 0, referenceCount, reading(options, 'test features'));
    const out = await classifier.run(pixels, [referenceCount, test.channels, test.height, test.width]);
    const accuracy = test.labels && topOneAccuracy(out.logits, classifier.config.num_classes, test.labels);
    const reference = featureStatistics(out.features, classifier.config.feature_dim);
    return new Evaluator(options, reference, referenceCount, accuracy);
  }

  /** The data sets' image shape (C, H, W): what samples are cropped to. */
  get dataShape(): [number, number, number] {
    const t = this.options.test;
    return [t.channels, t.height, t.width];
  }

  /** Generated images (B, C, H, W) in [0, 1] → the data's shape, quantised to 8 bits; counts NaN pixels. */
  prepareSamples(images: Float32Array, dims: readonly number[]): { pixels: Float32Array; nonFinite: number } {
    const [c, h, w] = this.dataShape;
    if (h !== w) throw new RangeError('evaluation needs square data images');
    let nonFinite = 0;
    for (const v of images) if (Number.isNaN(v)) nonFinite++;
    const pixels = quantize8Bit(centreCropChannels(images, dims, h, c));
    return { pixels, nonFinite };
  }

  /** FD, label histogram and nearest-training-image distances of generated images (B, C, H, W) in [0, 1]. */
  async evaluateSamples(images: Float32Array, dims: readonly number[]): Promise<SampleEvaluation> {
    const { classifier } = this.options;
    const { pixels, nonFinite } = this.prepareSamples(images, dims);
    const [c, h, w] = this.dataShape;
    const count = dims[0];
    this.options.onProgress?.('sample features', 0, count);
    const out = await classifier.run(pixels, [count, c, h, w]);
    this.options.onProgress?.('sample features', count, count);
    const histogram = labelHistogram(
      argmaxRows(out.logits, classifier.config.num_classes),
      classifier.config.num_classes,
    );
    return {
      count,
      frechetDistance: frechetDistance(
        featureStatistics(out.features, classifier.config.feature_dim),
        this.reference,
      ),
      labelHistogram: { ...histogram, classNames: classifier.config.class_names },
      nearestTrain: summariseDistances((await this.nearestTrain(pixels)).distance),
      nonFinitePixels: nonFinite,
    };
  }

  /** The floor at `count`: FD and label-histogram TV of the first `count` training images. */
  async floor(count: number): Promise<Floor> {
    const cached = this.floors.get(count);
    if (cached !== undefined) return cached;
    const { train, classifier } = this.options;
    if (count < 2 || count > train.length)
      throw new RangeError(`floor: need 2 to ${train.length} training images, asked for ${count}`);
    const pixels = (await this.train()).subarray(0, count * imageSize(train));
    this.options.onProgress?.('train features', 0, count);
    const out = await classifier.run(pixels, [count, train.channels, train.height, train.width]);
    this.options.onProgress?.('train features', count, count);
    const numClasses = classifier.config.num_classes;
    const floor: Floor = {
      frechetDistance: frechetDistance(
        featureStatistics(out.features, classifier.config.feature_dim),
        this.reference,
      ),
      totalVariation: labelHistogram(argmaxRows(out.logits, numClasses), numClasses).totalVariation,
    };
    this.floors.set(count, floor);
    return floor;
  }

  /** Nearest-training-image distances of the first min(count, test size) test images. */
  async testNearestTrain(count: number): Promise<DistanceSummary> {
    const { test } = this.options;
    const n = Math.min(count, test.length);
    const cached = this.testDistances.get(n);
    if (cached) return cached;
    const pixels = await readImages(test, 0, n, reading(this.options, 'read test'));
    const summary = summariseDistances((await this.nearestTrain(pixels)).distance);
    this.testDistances.set(n, summary);
    return summary;
  }

  /** Everything: the samples' numbers beside the floor and the test images' distances at the same count. */
  async report(images: Float32Array, dims: readonly number[]): Promise<EvaluationReport> {
    const samples = await this.evaluateSamples(images, dims);
    const floor = await this.floor(Math.min(samples.count, this.options.train.length));
    return {
      ...samples,
      referenceCount: this.referenceCount,
      floorFrechetDistance: floor.frechetDistance,
      floorTotalVariation: floor.totalVariation,
      uniformTotalVariation: expectedUniformTotalVariation(
        samples.count,
        this.options.classifier.config.num_classes,
      ),
      testNearestTrain: await this.testNearestTrain(samples.count),
      classifierTestAccuracy: this.classifierTestAccuracy,
    };
  }

  private async train(): Promise<Float32Array> {
    const { train } = this.options;
    this.trainPixels ??= await readImages(train, 0, train.length, reading(this.options, 'read train'));
    return this.trainPixels;
  }

  private async nearestTrain(pixels: Float32Array) {
    const train = await this.train();
    return nearestNeighbours(pixels, train, imageSize(this.options.train), {
      signal: this.options.signal,
      onProgress: (done, total) => this.options.onProgress?.('nearest neighbours', done, total),
    });
  }
}
