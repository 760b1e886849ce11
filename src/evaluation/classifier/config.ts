/**
 * The Fashion-MNIST classifier whose features the Fréchet distance is measured in (the role Inception-v3's
 * pool3 plays for FID): a small all-convolutional CNN trained by scoresde itself. Its config is a JSON file
 * beside the weights; this is its schema and validation.
 */
import { ConfigError } from '../../errors.js';
import type { JsonConfig } from '../../io/config.js';

export interface ClassifierConfig {
  /** Input channels (1: grayscale). */
  in_channels: number;
  /** Square input size; larger images are centre-cropped to it (a 32×32 padded model → 28×28). */
  sample_size: number;
  /** Output channels of each 3×3 convolution (padding 1, ReLU after each). */
  conv_channels: number[];
  /** Stride of each convolution (2 halves the size, in place of pooling). */
  conv_strides: number[];
  /** Width of the penultimate dense layer: the feature vector (after its ReLU). */
  feature_dim: number;
  num_classes: number;
  /** Name of each class, for reports. */
  class_names: string[];
  /** Input normalisation (x − mean) / std, applied inside the graph to images in [0, 1]. */
  normalize_mean: number;
  normalize_std: number;
}

/** Fashion-MNIST's classes in label order. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** The shipped architecture: 28 → 28 → 14 → 7 → 4, then 512 → 128 → 10 (108,714 parameters). */
export const DEFAULT_CLASSIFIER_CONFIG: ClassifierConfig = {
  in_channels: 1,
  sample_size: 28,
  conv_channels: [16, 32, 64, 32],
  conv_strides: [1, 2, 2, 2],
  feature_dim: 128,
  num_classes: 10,
  class_names: FASHION_MNIST_CLASSES,
  // Fashion-MNIST training-set pixel mean and standard deviation.
  normalize_mean: 0.286,
  normalize_std: 0.353,
};

/** Spatial size after each convolution (3×3, padding 1): ⌊(h − 1) / s⌋ + 1. */
export function convSizes(config: ClassifierConfig): number[] {
  const sizes: number[] = [];
  let h = config.sample_size;
  for (const s of config.conv_strides) {
    h = Math.floor((h - 1) / s) + 1;
    sizes.push(h);
  }
  return sizes;
}

const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/** Validates a parsed config.json; `file` names it in errors. */
export function parseClassifierConfig(json: JsonConfig, file: string): ClassifierConfig {
  const fail = (msg: string): never => {
    throw new ConfigError(`${file}: ${msg}`);
  };
  for (const key of ['in_channels', 'sample_size', 'feature_dim', 'num_classes'] as const)
    if (!positiveInt(json[key])) fail(`${key} must be a positive integer, got ${JSON.stringify(json[key])}`);
  for (const key of ['conv_channels', 'conv_strides'] as const) {
    const v = json[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every(positiveInt))
      fail(`${key} must be a non-empty list of positive integers`);
  }
  const c = json as unknown as ClassifierConfig;
  if (c.conv_channels.length !== c.conv_strides.length)
    fail('conv_channels and conv_strides differ in length');
  if (c.in_channels > 4 || c.sample_size > 1024 || c.conv_channels.some((x) => x > 4096))
    fail('sizes are implausibly large for this classifier');
  if (!Array.isArray(c.class_names) || c.class_names.length !== c.num_classes)
    fail(`class_names must list ${c.num_classes} names`);
  if (!(typeof c.normalize_mean === 'number' && Number.isFinite(c.normalize_mean)))
    fail('normalize_mean must be a number');
  if (!(typeof c.normalize_std === 'number' && c.normalize_std > 0))
    fail('normalize_std must be a number > 0');
  return {
    in_channels: c.in_channels,
    sample_size: c.sample_size,
    conv_channels: [...c.conv_channels],
    conv_strides: [...c.conv_strides],
    feature_dim: c.feature_dim,
    num_classes: c.num_classes,
    class_names: c.class_names.map(String),
    normalize_mean: c.normalize_mean,
    normalize_std: c.normalize_std,
  };
}
