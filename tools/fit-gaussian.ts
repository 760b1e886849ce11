/**
 * Fits the Gaussian of a training set (src/diagnostics/gaussian.ts) and writes it as gaussian.safetensors
 * beside a model, for the samplers' gaussianAbove safety net and evaluate's per-σ table.
 * Usage: node --import tsx tools/fit-gaussian.ts DATA MODEL_DIR [C H W]
 *   DATA: a folder of images or IDX files (the train split); C H W default to the model's config (1 28 28).
 */
import { join } from 'node:path';
import { openImageDataset } from '../src/data/index.js';
import { fitDatasetGaussian, GAUSSIAN_FILE, saveGaussian } from '../src/diagnostics/index.js';
import { readJsonConfig } from '../src/io/config.js';

const [data, modelDir, ...shape] = process.argv.slice(2);
if (!data || !modelDir) {
  console.error('usage: fit-gaussian.ts DATA MODEL_DIR [C H W]');
  process.exit(2);
}
let [channels, height, width] = shape.map(Number);
if (shape.length === 0) {
  const cfg = (await readJsonConfig(join(modelDir, 'unet', 'config.json'))) as Record<string, unknown>;
  const size = cfg.sample_size as number | [number, number];
  channels = cfg.in_channels as number;
  [height, width] = Array.isArray(size) ? size : [size, size];
}
const ds = await openImageDataset(data, { channels, height, width });
const t0 = performance.now();
const g = await fitDatasetGaussian(ds);
const out = join(modelDir, GAUSSIAN_FILE);
await saveGaussian(out, g);
console.log(
  `${out}: ${g.kind} Gaussian of ${g.count} images (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);
