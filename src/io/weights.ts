/**
 * Model weights: finding the file diffusers would load, reading it whatever its format, and converting to float32.
 */
import { stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { FileFormatError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { loadSafetensors } from './safetensors.js';
import { loadTorchCheckpoint } from './torch-pickle.js';

/** diffusers' SAFETENSORS_WEIGHTS_NAME / WEIGHTS_NAME. */
export const SAFETENSORS_WEIGHTS_NAME = 'diffusion_pytorch_model.safetensors';
export const PICKLE_WEIGHTS_NAME = 'diffusion_pytorch_model.bin';

const TORCH_EXTENSIONS = new Set(['.bin', '.pt', '.pth']);

/** Loads a state dict from `.safetensors` or a torch.save zip checkpoint (`.bin`, `.pt`, `.pth`). */
export async function loadStateDict(path: string): Promise<Map<string, Tensor>> {
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return (await loadSafetensors(path)).tensors;
  if (TORCH_EXTENSIONS.has(ext)) return loadTorchCheckpoint(path);
  throw new FileFormatError(
    path,
    `unsupported weights file extension "${ext}" (expected .safetensors, .bin, .pt or .pth)`,
  );
}

/** diffusers' `_add_variant`: "a.safetensors" + "fp16" → "a.fp16.safetensors". */
export function addVariant(name: string, variant?: string): string {
  if (variant === undefined) return name;
  const ext = extname(name);
  return `${name.slice(0, -ext.length)}.${variant}${ext}`;
}

export interface FindWeightsOptions {
  /** diffusers `variant`: e.g. "fp16" picks `diffusion_pytorch_model.fp16.safetensors`. */
  variant?: string;
  /**
   * diffusers `use_safetensors`: `true` requires the .safetensors file, `false` loads only the .bin,
   * `undefined` prefers .safetensors and falls back to .bin.
   */
  useSafetensors?: boolean;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The weights file `from_pretrained` would load from model folder `dir`; throws listing the names tried. */
export async function findWeightsFile(dir: string, options: FindWeightsOptions = {}): Promise<string> {
  const { variant, useSafetensors } = options;
  if (variant !== undefined && (typeof variant !== 'string' || !/^[\w-]+$/.test(variant))) {
    throw new TypeError(
      `findWeightsFile: variant must be a plain name such as "fp16", got ${JSON.stringify(variant)}`,
    );
  }
  let dirStat: Awaited<ReturnType<typeof stat>> | undefined;
  try {
    dirStat = await stat(dir);
  } catch {
    throw new FileFormatError(dir, 'model folder not found');
  }
  if (!dirStat.isDirectory())
    throw new FileFormatError(dir, 'is not a folder (expected a model folder holding the weights)');
  const candidates: string[] = [];
  if (useSafetensors !== false) candidates.push(addVariant(SAFETENSORS_WEIGHTS_NAME, variant));
  if (useSafetensors !== true) candidates.push(addVariant(PICKLE_WEIGHTS_NAME, variant));
  for (const name of candidates) {
    const path = join(dir, name);
    if (await isFile(path)) return path;
  }
  const why = useSafetensors === true ? ' (useSafetensors is true, so .bin files are not considered)' : '';
  throw new FileFormatError(dir, `no weights file found; looked for ${candidates.join(' and ')}${why}`);
}

let halfTable: Float32Array | undefined;

/** float16 bits → float32, for all 65536 patterns (256 KiB, built once). */
function float16Table(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      if (exp === 0) halfTable[h] = sign * frac * 2 ** -24;
      else if (exp === 31) halfTable[h] = frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
      else halfTable[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
    }
  }
  return halfTable;
}

/**
 * The tensor as float32: float16 / bfloat16 exactly, float64 rounded to nearest. A float32 tensor is returned as is.
 * Integer and bool tensors are not weights and are rejected.
 */
export function toFloat32(t: Tensor): Tensor<'float32'> {
  if (!(t instanceof Tensor)) throw new TypeError('toFloat32: expected a Tensor');
  switch (t.dtype) {
    case 'float32':
      return t as Tensor<'float32'>;
    case 'float64':
      return new Tensor('float32', Float32Array.from(t.data as Float64Array), t.dims);
    case 'float16': {
      const table = float16Table();
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]];
      return new Tensor('float32', out, t.dims);
    }
    case 'bfloat16': {
      // bfloat16 is the top half of a float32.
      const src = t.data as Uint16Array;
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Tensor('float32', new Float32Array(bits.buffer), t.dims);
    }
    default:
      throw new TypeError(`toFloat32: cannot convert ${t.dtype} tensors to float32 weights`);
  }
}
