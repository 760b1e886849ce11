/**
 * The classifier's forward graph, built once for inference (parameters as initializers) and once for
 * training (parameters as graph inputs, so autodiff can differentiate with respect to them).
 */
import type { GraphBuilder } from '../../onnx/graph.js';
import { type ClassifierConfig, convSizes } from './config.js';

/** Returns the graph value for parameter `name` of shape `dims` (an initializer or an input). */
export type ParamFn = (name: string, dims: number[]) => string;

/** Parameter names and shapes in graph order (torch-style names: conv1.weight, …, fc2.bias). */
export function classifierParameterShapes(config: ClassifierConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let c = config.in_channels;
  config.conv_channels.forEach((m, i) => {
    shapes.set(`conv${i + 1}.weight`, [m, c, 3, 3]);
    shapes.set(`conv${i + 1}.bias`, [m]);
    c = m;
  });
  const h = convSizes(config).at(-1)!;
  shapes.set('fc1.weight', [config.feature_dim, c * h * h]);
  shapes.set('fc1.bias', [config.feature_dim]);
  shapes.set('fc2.weight', [config.num_classes, config.feature_dim]);
  shapes.set('fc2.bias', [config.num_classes]);
  return shapes;
}

/**
 * conv (3×3, pad 1, stride s) + ReLU per layer → flatten → fc1 + ReLU (the features) → fc2 (the logits).
 * `x` is (B, C, S, S) in [0, 1].
 */
export function buildClassifier(
  g: GraphBuilder,
  x: string,
  config: ClassifierConfig,
  param: ParamFn,
): { features: string; logits: string } {
  const shapes = classifierParameterShapes(config);
  const p = (name: string) => param(name, shapes.get(name)!);
  let h = g.div(
    g.sub(x, g.constFloat([config.normalize_mean], [])),
    g.constFloat([config.normalize_std], []),
  );
  config.conv_strides.forEach((s, i) => {
    h = g.relu(
      g.conv(h, p(`conv${i + 1}.weight`), p(`conv${i + 1}.bias`), { strides: [s, s], pads: [1, 1, 1, 1] }),
    ); // (B, C_i, S_i, S_i)
  });
  const flat = g.reshape(h, [0, -1]); // (B, C·S·S)
  const features = g.relu(g.linear(flat, p('fc1.weight'), p('fc1.bias'))); // (B, feature_dim)
  const logits = g.linear(features, p('fc2.weight'), p('fc2.bias')); // (B, num_classes)
  return { features, logits };
}
