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
import { centreCropChannels } from '../images.js';
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

  /**
   * Features and logits of `images` (B, C, H, W) in [0, 1], `batchSize` images per session run. Larger images
   * are centre-cropped and RGB averaged to gray (`centreCropChannels`).
   */
  async run(images: Float32Array, dims: readonly number[], batchSize = 256): Promise<ClassifierOutput> {
    const input = centreCropChannels(images, dims, this.config.sample_size, this.config.in_channels);
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
