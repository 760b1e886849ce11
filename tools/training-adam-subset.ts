/**
 * Writes test/fixtures/training/tiny-ncsnpp_adam-subset.safetensors from the shared 6.9 MB
 * `training/tiny-ncsnpp_adam.safetensors`: the four batches, losses and gradient norms unchanged, and the
 * first 256 values of every final parameter and EMA tensor (the whole tensor when smaller).
 *
 * The shared file stores each EMA tensor one name late: its EMA list (trainable parameters only) was zipped
 * with `named_parameters()`, which also holds the frozen `time_proj.weight`. So the EMA of the j-th trainable
 * parameter sits under the j-th name of all parameters (the shapes confirm it; `conv_out.bias` has no key).
 * This copy stores every EMA under its own name.
 * Usage: node --import tsx tools/training-adam-subset.ts [SHARED_TRAINING_DIR] [OUT_FILE]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { Tensor } from '../src/tensor.js';

const KEEP = 256;
const [
  src = '../shared/fixtures/training',
  out = 'test/fixtures/training/tiny-ncsnpp_adam-subset.safetensors',
] = process.argv.slice(2);
const file = 'tiny-ncsnpp_adam.safetensors';
const tensors = (await loadSafetensors(join(src, file))).tensors;
const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8')) as {
  files: { file: string; tensors: Record<string, unknown> }[];
};
// named_parameters() order: the order the generator recorded the final parameters in.
const entry = manifest.files.find((f) => f.file === file)!;
const allNames = Object.keys(entry.tensors)
  .filter((k) => k.startsWith('final/param/'))
  .map((k) => k.slice('final/param/'.length));
const trainable = allNames.filter((k) => k !== 'time_proj.weight');

const outTensors = new Map<string, Tensor>();
const head = (t: Tensor) => {
  const data = (t.data as Float32Array).slice(0, KEEP);
  return new Tensor('float32', data, [data.length]);
};
for (const [k, t] of tensors) if (k.startsWith('step')) outTensors.set(k, t);
for (const name of allNames) outTensors.set(`final/param/${name}`, head(tensors.get(`final/param/${name}`)!));
for (const [j, name] of trainable.entries()) {
  const stored = tensors.get(`final/ema/${allNames[j]}`)!;
  const param = tensors.get(`final/param/${name}`)!;
  if (stored.dims.join() !== param.dims.join())
    throw new Error(`EMA of ${name}: shape ${stored.dims} ≠ ${param.dims}`);
  outTensors.set(`final/ema/${name}`, head(stored));
}
await saveSafetensors(out, outTensors, {
  source: `shared/fixtures/training/${file}`,
  derivation: `first ${KEEP} values of each final tensor; EMA stored under its own parameter name`,
  named_parameters_order: JSON.stringify(allNames),
});
console.log(`${outTensors.size} tensors -> ${out}`);
