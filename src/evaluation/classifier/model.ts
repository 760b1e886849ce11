/**
 * The Fashion-MNIST classifier at inference: loads config.json + model.safetensors from a folder, and maps
 * images to features (the Fréchet distance's space) and logits (the label histogram's).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../errors.js';
import { readJsonConfig } from '../../io/config.js';
import { loadSafetensors } from '../../io/safetensors.js';
import { toFloat32 } from '../../io/weights.js';
import { GraphBuilder } from '../../onnx/graph.js';
import { OnnxSession } from '../../onnx/session.js';
import { Tensor } from '../../tensor.js';
import { type ClassifierConfig, parseClassifierConfig } from './config.js';
import { buildClassifier, classifierParameterShapes } from './graph.js';

export const CLASSIFIER_CONFIG_NAME = 'config.json';
export const CLASSIFIER_WEIGHTS_NAME = 'model.safetensors';

/** The folder of the classifier shipped with scoresde (`models/fashion-mnist-classifier` at the package root). */
export function defaultClassifierDir(): string {
  // src/evaluation/classifier/ and dist/evaluation/classifier/ sit at the same depth below the root.
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', '..', 'models', 'fashion-mnist-classifier');
}

export interface ClassifierOutput {
  /** (B, feature_dim) row-major. */
  features: Float32Array;
  /** (B, num_classes) row-major. */
  logits: Float32Array;
}

/**
 * Images (B, C, H, W) in [0, 1] → the classifier's input (B, in_channels, S, S): channels averaged to one
 * when the classifier is grayscale (an RGB render of a gray image has three equal channels), and larger
 * images centre-cropped to S (a model trained on 28×28 padded to 32×32 loses exactly its padding).
 */
export function toClassifierInput(
  images: Float32Array,
  dims: readonly number[],
  config: ClassifierConfig,
): Float32Array {
  const [b, c, h, w] = dims;
  const s = config.sample_size;
  if (dims.length !== 4 || b * c * h * w !== images.length)
    throw new RangeError(`classifier input: expected (B, C, H, W) images, got [${dims.join(', ')}]`);
  if (h < s || w < s || (h - s) % 2 !== 0 || (w - s) % 2 !== 0)
    throw new RangeError(`classifier input: ${h}×${w} images cannot be centre-cropped to ${s}×${s}`);
  if (c !== config.in_channels && !(config.in_channels === 1 && c === 3))
    throw new RangeError(
      `classifier input: ${c}-channel images for a ${config.in_channels}-channel classifier`,
    );
  const oy = (h - s) / 2;
  const ox = (w - s) / 2;
  const outC = config.in_channels;
  const out = new Float32Array(b * outC * s * s);
  for (let n = 0; n < b; n++) {
    for (let k = 0; k < outC; k++) {
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          let v = 0;
          if (c === outC) v = images[((n * c + k) * h + y + oy) * w + x + ox];
          else {
            for (let j = 0; j < c; j++) v += images[((n * c + j) * h + y + oy) * w + x + ox];
            v /= c;
          }
          out[((n * outC + k) * s + y) * s + x] = v;
        }
      }
    }
  }
  return out;
}

export class FashionMnistClassifier {
  private constructor(
    readonly config: ClassifierConfig,
    private readonly session: OnnxSession,
  ) {}

  /** An inference session for `config` with the given float32 parameters (names as classifierParameterShapes). */
  static async fromParameters(
    config: ClassifierConfig,
    params: Map<string, Tensor>,
    source = '<parameters>',
  ): Promise<FashionMnistClassifier> {
    const shapes = classifierParameterShapes(config);
    for (const name of params.keys())
      if (!shapes.has(name)) throw new FileFormatError(source, `unexpected parameter "${name}"`);
    const g = new GraphBuilder('fashion_mnist_classifier');
    const s = config.sample_size;
    const x = g.input('images', 'float32', ['batch', config.in_channels, s, s]);
    const { features, logits } = buildClassifier(g, x, config, (name, dims) => {
      const t = params.get(name);
      if (!t) throw new FileFormatError(source, `missing parameter "${name}"`);
      if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i]))
        throw new FileFormatError(
          source,
          `parameter "${name}" has shape [${t.dims.join(', ')}], the config needs [${dims.join(', ')}]`,
        );
      const f = toFloat32(t);
      for (const v of f.data)
        if (!Number.isFinite(v)) throw new FileFormatError(source, `parameter "${name}" is not finite`);
      return g.initializer(
        name,
        'float32',
        dims,
        new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength),
      );
    });
    g.output(features, 'features');
    g.output(logits, 'logits');
    return new FashionMnistClassifier(config, await OnnxSession.create(g.toModelBytes()));
  }

  /** Loads config.json and model.safetensors from `dir` (default: the classifier shipped with scoresde). */
  static async fromPretrained(dir: string = defaultClassifierDir()): Promise<FashionMnistClassifier> {
    const configPath = join(dir, CLASSIFIER_CONFIG_NAME);
    const weightsPath = join(dir, CLASSIFIER_WEIGHTS_NAME);
    if (!existsSync(weightsPath)) throw new FileFormatError(weightsPath, 'classifier weights not found');
    const config = parseClassifierConfig(await readJsonConfig(configPath), configPath);
    const { tensors } = await loadSafetensors(weightsPath);
    return FashionMnistClassifier.fromParameters(config, tensors, weightsPath);
  }

  /** Features and logits of `images` (B, C, H, W) in [0, 1], `batchSize` images per session run. */
  async run(images: Float32Array, dims: readonly number[], batchSize = 256): Promise<ClassifierOutput> {
    const input = toClassifierInput(images, dims, this.config);
    const b = dims[0];
    const { in_channels: c, sample_size: s, feature_dim: f, num_classes: k } = this.config;
    const features = new Float32Array(b * f);
    const logits = new Float32Array(b * k);
    for (let i = 0; i < b; i += batchSize) {
      const n = Math.min(batchSize, b - i);
      const out = await this.session.run({
        images: new Tensor('float32', input.subarray(i * c * s * s, (i + n) * c * s * s), [n, c, s, s]),
      });
      features.set(out.get('features')!.data as Float32Array, i * f);
      logits.set(out.get('logits')!.data as Float32Array, i * k);
    }
    return { features, logits };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
