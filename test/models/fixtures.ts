/** Shared helpers for the UNet tests: fixture paths, case loading and the README's error measure. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/tensor.js';

export const MODELS_DIR = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

export interface ModelCase {
  file: string;
  has_detailed_activations: boolean;
  activation_order: string[];
}
export interface ModelEntry {
  model: string;
  checkpoint: { num_parameters: number; state_dict_keys: number; config: Record<string, unknown> };
  cases: ModelCase[];
}

export const manifest = JSON.parse(readFileSync(`${MODELS_DIR}manifest.json`, 'utf8')) as {
  models: ModelEntry[];
};

export async function loadCase(file: string): Promise<Map<string, Tensor>> {
  return (await loadSafetensors(`${MODELS_DIR}${file}`)).tensors;
}

/** The README's measure: max |a − b| / max |ref|, over the index range [from, to). */
export function relErr(actual: ArrayLike<number>, ref: ArrayLike<number>, from = 0, to = ref.length): number {
  if (actual.length !== ref.length)
    throw new RangeError(`length ${actual.length} vs reference ${ref.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = from; i < to; i++) {
    const d = Math.abs(actual[i] - ref[i]);
    diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

export function maxAbsDiff(actual: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < ref.length; i++)
    d = Math.max(d, Math.abs(actual[i] - ref[i]) || (actual[i] === ref[i] ? 0 : Infinity));
  return d;
}

/** The timestep a case passed: a float32 tensor, or a Python number stored as float64. */
export function caseTimestep(c: Map<string, Tensor>): Float64Array | Float32Array {
  const t = c.get('input/timestep') ?? c.get('input/timestep_python_value_as_float64');
  if (!t) throw new Error('case has no timestep');
  return t.data as Float32Array | Float64Array;
}
