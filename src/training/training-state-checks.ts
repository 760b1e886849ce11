/**
 * Full validation of a training checkpoint's content as it is read back (besides the manifest's SHA-256,
 * which a hand edit can recompute): every field of state.json typed and in range, no unknown field, and every
 * stored EMA and Adam moment shaped exactly like its parameter. A failure names the file.
 */
import { FileFormatError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import type { TrainingStateInfo } from './training-state.js';

/** JSON.parse with the file named in the error. */
export function parseStrictJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
}

/** Every field of state.json, each required. */
export const STATE_INFO_KEYS: readonly (keyof TrainingStateInfo)[] = [
  'step',
  'trainedKeys',
  'unetConfig',
  'options',
  'generator',
  'loader',
  'adamSteps',
  'emaUpdates',
  'data',
];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** state.json's content as a TrainingStateInfo, or a FileFormatError naming `path` and the first bad field. */
export function checkStateInfo(value: unknown, path: string): TrainingStateInfo {
  const bad = (what: string): never => {
    throw new FileFormatError(path, `not a valid training state: ${what}`);
  };
  if (!isObject(value)) return bad('not a JSON object');
  const unknown = Object.keys(value).filter((k) => !(STATE_INFO_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) bad(`unknown fields (${unknown.join(', ')})`);
  const missing = STATE_INFO_KEYS.filter((k) => !(k in value));
  if (missing.length > 0) bad(`missing fields (${missing.join(', ')})`);
  const v = value as unknown as TrainingStateInfo;
  for (const k of ['step', 'adamSteps', 'emaUpdates'] as const)
    if (!isCount(v[k])) bad(`${k} is not a count`);
  if (!Array.isArray(v.trainedKeys) || !v.trainedKeys.every((k) => typeof k === 'string'))
    bad('trainedKeys is not a list of names');
  if (new Set(v.trainedKeys).size !== v.trainedKeys.length) bad('trainedKeys names a parameter twice');
  if (!isObject(v.unetConfig)) bad('unetConfig is not an object');
  if (!isObject(v.options)) bad('options is not an object');
  if (!isObject(v.loader)) bad('loader is not an object');
  if (!isObject(v.data) || typeof v.data.source !== 'string' || !isCount(v.data.length))
    bad('data is not {source, length}');
  return v; // generator and loader are checked by their own setState / restore when resumed
}

const sameDims = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Every `ema/`, `adam_m/` and `adam_v/` tensor belongs to a trained parameter and has its shape; every value
 * of the moments is finite (Adam's second moment also non-negative).
 */
export function checkStateShapes(
  tensors: Map<string, Tensor>,
  trainedKeys: readonly string[],
  path: string,
): void {
  const trained = new Set(trainedKeys);
  for (const [name, t] of tensors) {
    const slash = name.indexOf('/');
    const group = name.slice(0, slash);
    if (group === 'param') continue;
    const key = name.slice(slash + 1);
    const param = tensors.get(`param/${key}`);
    if (!trained.has(key) || !param)
      throw new FileFormatError(path, `holds ${name}, but ${key} is not a trained parameter`);
    if (!sameDims(t.dims, param.dims))
      throw new FileFormatError(
        path,
        `${name} is shaped [${t.dims.join(', ')}], its parameter [${param.dims.join(', ')}]`,
      );
    const data = t.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (!Number.isFinite(x) || (group === 'adam_v' && x < 0))
        throw new FileFormatError(path, `${name} holds ${x} at element ${i}`);
    }
  }
}

/** The checkpoint's parameters are exactly the model's, each with the model's shape. */
export function checkParamsMatchModel(
  shapes: ReadonlyMap<string, readonly number[]>,
  model: ReadonlyMap<string, readonly number[]>,
  path: string,
): void {
  for (const [key, dims] of model) {
    const stored = shapes.get(key);
    if (!stored) throw new FileFormatError(path, `lacks parameter ${key} of its model`);
    if (!sameDims(stored, dims))
      throw new FileFormatError(
        path,
        `param/${key} is shaped [${stored.join(', ')}], the model's [${dims.join(', ')}]`,
      );
  }
  const extra = [...shapes.keys()].find((k) => !model.has(k));
  if (extra !== undefined)
    throw new FileFormatError(path, `holds param/${extra}, which its model does not have`);
}
