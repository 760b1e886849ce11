/**
 * `torch.randn` / `torch.rand` on CPU in float32, bit for bit, and diffusers' `randn_tensor`.
 * Draws come from a {@link Generator} or, when none is given, from the global {@link defaultGenerator}.
 */
import { Tensor } from '../tensor.js';
import { Generator, type RandnPath } from './generator.js';
import { normalFill } from './normal-fill.js';

/** The global generator that torch.manual_seed seeds; used when no generator is passed. */
export const defaultGenerator = new Generator();

/** `torch.manual_seed(seed)`: reseeds the global generator and returns it. */
export function manualSeed(seed: number | bigint): Generator {
  return defaultGenerator.manualSeed(seed);
}

export interface RandnOptions {
  /** Where the draws come from (diffusers / torch `generator`); default {@link defaultGenerator}. */
  generator?: Generator;
  /** Override the generator's maths for >= 16 elements (see {@link RandnPath}). */
  path?: RandnPath;
}

export interface RandOptions {
  /** Where the draws come from (torch `generator`); default {@link defaultGenerator}. */
  generator?: Generator;
}

export interface RandnTensorOptions {
  /** One generator, or one per batch row (diffusers `generator`, a list); default {@link defaultGenerator}. */
  generator?: Generator | readonly Generator[];
  /** Override the generators' maths for >= 16 elements (see {@link RandnPath}). */
  path?: RandnPath;
}

/** Largest element count drawn in one call (a Float32Array's practical limit). */
const MAX_NUMEL = 2 ** 32 - 1;

function checkDims(dims: unknown, where: string): number {
  if (!Array.isArray(dims))
    throw new TypeError(`${where}: dims must be an array of integers, got ${typeof dims}`);
  let n = 1;
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new RangeError(`${where}: dims must be non-negative integers, got [${dims.join(', ')}]`);
    }
    n *= d;
  }
  if (n > MAX_NUMEL)
    throw new RangeError(`${where}: shape [${dims.join(', ')}] has ${n} elements, over ${MAX_NUMEL}`);
  return n;
}

function checkGenerator(generator: unknown, where: string, label = 'generator'): Generator {
  if (generator === undefined) return defaultGenerator;
  if (!(generator instanceof Generator)) throw new TypeError(`${where}: ${label} must be a Generator`);
  return generator;
}

/** Draws numel standard normals into a new array, consuming the stream as torch does. */
function drawNormals(numel: number, generator: Generator, path: RandnPath): Float32Array {
  const data = new Float32Array(numel);
  if (numel >= 16) {
    normalFill(data, generator, path);
  } else {
    // torch's serial kernel: normal_distribution<double> per element, cast to float
    for (let i = 0; i < numel; i++) data[i] = generator.nextNormal();
  }
  return data;
}

/** `torch.randn(dims, generator=g)` (float32, CPU), bit-identical. */
export function randn(dims: readonly number[], options: RandnOptions = {}): Tensor<'float32'> {
  const numel = checkDims(dims, 'randn');
  const generator = checkGenerator(options.generator, 'randn');
  const path = options.path ?? generator.path;
  if (path !== 'avx2' && path !== 'scalar') {
    throw new RangeError(`randn: path must be 'avx2' or 'scalar', got ${JSON.stringify(path)}`);
  }
  return new Tensor('float32', drawNormals(numel, generator, path), dims);
}

/** `torch.rand(dims, generator=g)` (float32, CPU): uniform [0, 1), one 32-bit word per element. */
export function rand(dims: readonly number[], options: RandOptions = {}): Tensor<'float32'> {
  const numel = checkDims(dims, 'rand');
  const generator = checkGenerator(options.generator, 'rand');
  const data = new Float32Array(numel);
  generator.fillFloats(data);
  return new Tensor('float32', data, dims);
}

/**
 * diffusers' `randn_tensor(shape, generator)` on CPU (always float32). With an array of generators,
 * batch row i is `randn((1, ...dims[1:]), generator[i])` and the rows are concatenated; the array must
 * have one generator per row (dims[0]).
 */
export function randnTensor(dims: readonly number[], options: RandnTensorOptions = {}): Tensor<'float32'> {
  const { generator, path } = options;
  const numel = checkDims(dims, 'randnTensor');
  if (!Array.isArray(generator))
    return randn(dims, { generator: checkGenerator(generator, 'randnTensor'), path });
  if (dims.length === 0)
    throw new RangeError('randnTensor: a list of generators needs dims with a batch dimension');
  const batch = dims[0];
  if (generator.length !== batch) {
    throw new RangeError(
      `randnTensor: got ${generator.length} generators for a batch of ${batch} (dims[0]); pass one per batch row`,
    );
  }
  // validate every generator before drawing from any
  const generators = generator.map((g, i) => checkGenerator(g, 'randnTensor', `generator[${i}]`));
  const rowDims = [1, ...dims.slice(1)];
  const out = new Float32Array(numel);
  const rowSize = batch === 0 ? 0 : numel / batch;
  for (const [i, g] of generators.entries())
    out.set(randn(rowDims, { generator: g, path }).data, i * rowSize);
  return new Tensor('float32', out, dims);
}
