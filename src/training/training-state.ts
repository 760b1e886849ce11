/**
 * The resumable training state beside a training run's pipeline folder: `DIR/training_state/`.
 *
 *   training_state/manifest.json          names the current checkpoint; replaced atomically (the commit point)
 *   training_state/step-<k>-<id>/state.safetensors   raw weights, EMA, Adam m and v (float32)
 *   training_state/step-<k>-<id>/state.json          step, generator and data-loader position, options, config
 *
 * A checkpoint's files are written and fsync'ed into a fresh folder first; only then does the manifest point
 * at it, and older folders are deleted afterwards. A kill at any moment therefore leaves the manifest naming
 * a complete checkpoint (the new one or the previous one); the manifest records each file's size and SHA-256
 * so a damaged file is reported instead of loaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError } from '../errors.js';
import { type FileKind, openRegularFile, readAt, readInputText } from '../io/read-file.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { Tensor } from '../tensor.js';
import { checkStateInfo, checkStateShapes, parseStrictJson } from './training-state-checks.js';

export const STATE_DIR = 'training_state';
const MANIFEST = 'manifest.json';
const FORMAT = 'scoresde-training-state';
const VERSION = 1;
const TENSORS_FILE = 'state.safetensors';
const JSON_FILE = 'state.json';

/** Everything besides the tensors, as plain JSON. */
export interface TrainingStateInfo {
  /** Optimisation steps completed. */
  step: number;
  /** Trained parameters in the optimiser's order (their Adam moments and EMA are stored). */
  trainedKeys: string[];
  /** The UNet config (config.json form). */
  unetConfig: Record<string, unknown>;
  /** The options that decide the trajectory (checked on resume). */
  options: Record<string, unknown>;
  /** The noise generator (GeneratorState). */
  generator: unknown;
  /** The data loader's position (its state()). */
  loader: unknown;
  /** Adam's step count and the EMA's update count (equal to `step` unless resumed from elsewhere). */
  adamSteps: number;
  emaUpdates: number;
  /** Where the data came from and how many images it had. */
  data: { source: string; length: number };
}

export interface TrainingState {
  info: TrainingStateInfo;
  /** The full state dict of raw (not averaged) weights. */
  params: Map<string, Float32Array>;
  /** EMA, Adam m, Adam v of each trained key. */
  ema: Map<string, Float32Array>;
  adamM: Map<string, Float32Array>;
  adamV: Map<string, Float32Array>;
  /** Shapes of `params`. */
  shapes: Map<string, readonly number[]>;
}

interface Manifest {
  format: string;
  version: number;
  step: number;
  current: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Writes `data` to `path` and flushes it to disk before returning. */
async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await fh.close();
  }
}

/** Writes a checkpoint of the training state into `runDir/training_state` atomically. */
export async function saveTrainingState(runDir: string, state: TrainingState): Promise<void> {
  const root = join(runDir, STATE_DIR);
  await mkdir(root, { recursive: true });
  const name = `step-${String(state.info.step).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
  const dir = join(root, name);
  await mkdir(dir);

  const tensors = new Map<string, Tensor>();
  const add = (prefix: string, m: Map<string, Float32Array>) => {
    for (const [k, v] of m) tensors.set(`${prefix}/${k}`, new Tensor('float32', v, state.shapes.get(k)!));
  };
  add('param', state.params);
  add('ema', state.ema);
  add('adam_m', state.adamM);
  add('adam_v', state.adamV);
  const bytes = serializeSafetensors(tensors, { format: FORMAT });
  const json = `${JSON.stringify(state.info)}\n`;
  await writeDurable(join(dir, TENSORS_FILE), bytes);
  await writeDurable(join(dir, JSON_FILE), json);
  await syncDir(dir);

  const manifest: Manifest = {
    format: FORMAT,
    version: VERSION,
    step: state.info.step,
    current: name,
    files: {
      [TENSORS_FILE]: { bytes: bytes.byteLength, sha256: sha256(bytes) },
      [JSON_FILE]: { bytes: Buffer.byteLength(json), sha256: sha256(json) },
    },
  };
  const tmp = join(root, `.${MANIFEST}.${randomBytes(4).toString('hex')}.tmp`);
  await writeDurable(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(tmp, join(root, MANIFEST));
  await syncDir(root);
  await removeStale(root, name);
}

/** Deletes checkpoint folders and temp files other than `keep` (left by older checkpoints or a killed write). */
async function removeStale(root: string, keep: string): Promise<void> {
  for (const entry of await readdir(root)) {
    if (entry === keep || entry === MANIFEST) continue;
    if (entry.startsWith('step-') || entry.endsWith('.tmp'))
      await rm(join(root, entry), { recursive: true, force: true });
  }
}

/** Whether `runDir` holds a committed training state; returns its step, or undefined. */
export async function trainingStateStep(runDir: string): Promise<number | undefined> {
  try {
    return (await readManifest(join(runDir, STATE_DIR))).step;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const MANIFEST_KEYS = ['format', 'version', 'step', 'current', 'files'];
const FILE_ENTRY_KEYS = ['bytes', 'sha256'];

async function readManifest(root: string): Promise<Manifest> {
  const path = join(root, MANIFEST);
  let text: string;
  try {
    text = await readInputText(path, 'training manifest');
  } catch (e) {
    // no manifest: no state (callers tell that apart by the code)
    if (e instanceof FileFormatError && e.message.endsWith(': no such file'))
      throw Object.assign(new Error(e.message), { code: 'ENOENT' });
    throw e;
  }
  const m = parseStrictJson(text, path) as Manifest;
  if (m?.format !== FORMAT || m.version !== VERSION) {
    throw new FileFormatError(path, `not a ${FORMAT} manifest of version ${VERSION}`);
  }
  const unknown = Object.keys(m).filter((k) => !MANIFEST_KEYS.includes(k));
  if (unknown.length > 0) throw new FileFormatError(path, `has unknown entries (${unknown.join(', ')})`);
  if (
    !Number.isSafeInteger(m.step) ||
    m.step < 0 ||
    typeof m.current !== 'string' ||
    !/^step-[\w-]+$/.test(m.current)
  ) {
    throw new FileFormatError(path, 'has an invalid step or checkpoint name');
  }
  if (typeof m.files !== 'object' || m.files === null) throw new FileFormatError(path, 'lists no files');
  for (const [name, entry] of Object.entries(m.files)) {
    if (name !== TENSORS_FILE && name !== JSON_FILE)
      throw new FileFormatError(path, `lists an unknown file ${JSON.stringify(name)}`);
    if (
      typeof entry !== 'object' ||
      entry === null ||
      Object.keys(entry).some((k) => !FILE_ENTRY_KEYS.includes(k)) ||
      !Number.isSafeInteger(entry.bytes) ||
      entry.bytes < 0 ||
      typeof entry.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(entry.sha256)
    )
      throw new FileFormatError(path, `has an invalid entry for ${name}`);
  }
  return m;
}

/** A checkpoint file, refused before it is read unless its size is the manifest's, then checked by SHA-256. */
async function readCheckedFile(
  path: string,
  kind: FileKind,
  expected: { bytes: number; sha256: string },
): Promise<Buffer> {
  const file = await openRegularFile(path, kind);
  try {
    const damaged = () =>
      new FileFormatError(path, 'is damaged (its size or SHA-256 differs from the manifest)');
    if (file.size !== expected.bytes) throw damaged();
    const data = Buffer.allocUnsafe(file.size);
    if ((await readAt(file, path, data, 0)) !== file.size || sha256(data) !== expected.sha256)
      throw damaged();
    return data;
  } finally {
    await file.handle.close();
  }
}

/** Reads the committed checkpoint of `runDir`, verifying sizes and checksums. Throws ENOENT when there is none. */
export async function loadTrainingState(runDir: string): Promise<TrainingState> {
  const root = join(runDir, STATE_DIR);
  const manifest = await readManifest(root);
  const dir = join(root, manifest.current);
  const read = async (file: string, kind: FileKind): Promise<Buffer> => {
    const expected = manifest.files[file];
    if (!expected) throw new FileFormatError(join(root, MANIFEST), `does not list ${file}`);
    return readCheckedFile(join(dir, file), kind, expected);
  };
  const jsonPath = join(dir, JSON_FILE);
  const tensorsPath = join(dir, TENSORS_FILE);
  const info = checkStateInfo(
    parseStrictJson((await read(JSON_FILE, 'training state')).toString('utf8'), jsonPath),
    jsonPath,
  );
  if (info.step !== manifest.step)
    throw new FileFormatError(jsonPath, `step ${info.step} ≠ manifest step ${manifest.step}`);
  const { tensors } = parseSafetensors(await read(TENSORS_FILE, 'training tensors'), tensorsPath);
  const state: TrainingState = {
    info,
    params: new Map(),
    ema: new Map(),
    adamM: new Map(),
    adamV: new Map(),
    shapes: new Map(),
  };
  const groups: Record<string, Map<string, Float32Array>> = {
    param: state.params,
    ema: state.ema,
    adam_m: state.adamM,
    adam_v: state.adamV,
  };
  for (const [name, t] of tensors) {
    const slash = name.indexOf('/');
    const group = groups[name.slice(0, slash)];
    if (!group || t.dtype !== 'float32')
      throw new FileFormatError(tensorsPath, `unexpected tensor ${name} (${t.dtype})`);
    const key = name.slice(slash + 1);
    // A copy: the optimiser updates these in place, and views into the file buffer may be misaligned.
    group.set(key, Float32Array.from(t.data as Float32Array));
    if (group === state.params) state.shapes.set(key, t.dims);
  }
  for (const k of info.trainedKeys) {
    if (!state.params.has(k) || !state.ema.has(k) || !state.adamM.has(k) || !state.adamV.has(k)) {
      throw new FileFormatError(tensorsPath, `lacks the state of trained parameter ${k}`);
    }
  }
  checkStateShapes(tensors, info.trainedKeys, tensorsPath);
  return state;
}
