/**
 * torch's CPU generator (`torch.Generator()`, CPUGeneratorImpl in torch 1.13): an mt19937 stream,
 * the uniform float / double conversions torch uses, and the cached second normal of
 * `normal_distribution<double>`. `randn` / `rand` in sampling.ts draw from it.
 */
import { MT_STATE_WORDS, MT19937 } from './mt19937.js';

/**
 * Which transcendental maths torch's >= 16-element float32 randn uses:
 * `'avx2'` is torch's default dispatch on x86-64 CPUs with AVX2 (Cephes polynomials, FMA-fused),
 * `'scalar'` is `ATEN_CPU_CAPABILITY=default` (glibc logf / sinf / cosf).
 */
export type RandnPath = 'avx2' | 'scalar';

export interface GeneratorOptions {
  /** Which maths randn reproduces; default `'scalar'` if `ATEN_CPU_CAPABILITY=default`, else `'avx2'`. */
  path?: RandnPath;
}

/** A generator's full state; plain data, safe to JSON.stringify. */
export interface GeneratorState {
  /** The seed last given to manualSeed, as a decimal string (seeds go up to 2^64 - 1). */
  seed: string;
  /** The 624 mt19937 state words, each in [0, 2^32). */
  mt: number[];
  /** How many words of the current state block were used (0..624; 624 = twist before the next draw). */
  index: number;
  /** The cached second normal of `normal_distribution<double>`, or null. */
  cachedNormal: number | null;
}

/** torch's `default_rng_seed_val`: the seed of a fresh `torch.Generator()`. */
export const DEFAULT_SEED = 67280421310721n;

const TWO_POW_MINUS_24 = 2 ** -24;
const TWO_POW_MINUS_53 = 2 ** -53;
const TWO_POW_32 = 2 ** 32;
const MAX_SEED = (1n << 64n) - 1n;

/** The default path: torch's runtime dispatch unless ATEN_CPU_CAPABILITY=default forces scalar code. */
export function defaultRandnPath(): RandnPath {
  return typeof process !== 'undefined' && process.env?.ATEN_CPU_CAPABILITY === 'default' ? 'scalar' : 'avx2';
}

function checkPath(path: unknown, where: string): RandnPath {
  if (path !== 'avx2' && path !== 'scalar') {
    throw new RangeError(`${where}: path must be 'avx2' or 'scalar', got ${JSON.stringify(path)}`);
  }
  return path;
}

/** Validates a seed like torch's manual_seed (an integer in [0, 2^64)); returns it as a bigint. */
export function checkSeed(seed: unknown, where: string): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MAX_SEED)
      throw new RangeError(`${where}: seed must be in [0, 2^64), got ${seed}`);
    return seed;
  }
  if (typeof seed !== 'number')
    throw new TypeError(`${where}: seed must be a number or bigint, got ${typeof seed}`);
  if (!Number.isInteger(seed) || seed < 0) {
    throw new RangeError(`${where}: seed must be a non-negative integer, got ${seed}`);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`${where}: seed ${seed} is above 2^53 and not exact as a number; pass a bigint`);
  }
  return BigInt(seed);
}

export class Generator {
  /** The maths randn uses with this generator (see {@link RandnPath}). */
  readonly path: RandnPath;
  readonly #mt = new MT19937();
  #seed = DEFAULT_SEED;
  #cachedNormal: number | null = null;

  constructor(options: GeneratorOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('Generator: options must be an object');
    this.path = options.path === undefined ? defaultRandnPath() : checkPath(options.path, 'Generator');
    this.manualSeed(DEFAULT_SEED);
  }

  /** `manual_seed`: reseeds (mt19937 with the low 32 bits) and drops the cached normal. */
  manualSeed(seed: number | bigint): this {
    const s = checkSeed(seed, 'Generator.manualSeed');
    this.#mt.seed(Number(BigInt.asUintN(32, s)));
    this.#seed = s;
    this.#cachedNormal = null;
    return this;
  }

  /** `initial_seed`: the seed last given to manualSeed. */
  initialSeed(): bigint {
    return this.#seed;
  }

  /** A copy of the full state. */
  getState(): GeneratorState {
    return {
      seed: this.#seed.toString(),
      mt: Array.from(this.#mt.state),
      index: this.#mt.index,
      cachedNormal: this.#cachedNormal,
    };
  }

  /** Restores a state from {@link getState}; validates it first and leaves the generator unchanged on error. */
  setState(state: GeneratorState): this {
    const where = 'Generator.setState';
    if (typeof state !== 'object' || state === null) throw new TypeError(`${where}: state must be an object`);
    const { seed, mt, index, cachedNormal } = state;
    if (typeof seed !== 'string' || !/^\d+$/.test(seed) || BigInt(seed) > MAX_SEED) {
      throw new RangeError(
        `${where}: state.seed must be a decimal integer string in [0, 2^64), got ${JSON.stringify(seed)}`,
      );
    }
    if (!Array.isArray(mt) || mt.length !== MT_STATE_WORDS) {
      throw new RangeError(`${where}: state.mt must be an array of ${MT_STATE_WORDS} words`);
    }
    for (let i = 0; i < MT_STATE_WORDS; i++) {
      const w = mt[i];
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
        throw new RangeError(`${where}: state.mt[${i}] must be an integer in [0, 2^32), got ${w}`);
      }
    }
    if (!mt.some((w) => w !== 0))
      throw new RangeError(`${where}: state.mt is all zeros (a dead mt19937 state)`);
    if (!Number.isInteger(index) || index < 0 || index > MT_STATE_WORDS) {
      throw new RangeError(
        `${where}: state.index must be an integer in [0, ${MT_STATE_WORDS}], got ${index}`,
      );
    }
    if (cachedNormal !== null && !(typeof cachedNormal === 'number' && Number.isFinite(cachedNormal))) {
      throw new TypeError(
        `${where}: state.cachedNormal must be a finite number or null, got ${cachedNormal}`,
      );
    }
    this.#mt.state.set(mt);
    this.#mt.index = index;
    this.#seed = BigInt(seed);
    this.#cachedNormal = cachedNormal;
    return this;
  }

  /** Next raw 32-bit word of the stream (`random()`). */
  nextUint32(): number {
    return this.#mt.nextUint32();
  }

  /** `uniform_real_distribution<float>(0, 1)`: (u32 & 0xFFFFFF) · 2^-24, one word. */
  nextFloat(): number {
    return (this.#mt.nextUint32() & 0xffffff) * TWO_POW_MINUS_24;
  }

  /** Fills out[start, end) with {@link nextFloat} draws, in order (fast path for rand / randn). */
  fillFloats(out: Float32Array, start = 0, end = out.length): void {
    this.#mt.fillUniformFloats(out, start, end);
  }

  /** `uniform_real_distribution<double>(0, 1)`: 53 bits of two words, the first drawn is the high one. */
  nextDouble(): number {
    const hi = this.#mt.nextUint32();
    const lo = this.#mt.nextUint32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) * TWO_POW_MINUS_53;
  }

  /**
   * `normal_distribution<double>(0, 1)`: Box-Muller on two uniform doubles, caching r·sin θ for the
   * next call (the cache survives between randn calls and is cleared by manualSeed).
   */
  nextNormal(): number {
    // `+ 0` is torch's `x * std + mean` with std 1, mean 0: it turns the -0 of u2 = 0 into +0
    const cached = this.#cachedNormal;
    if (cached !== null) {
      this.#cachedNormal = null;
      return cached + 0;
    }
    const u1 = this.nextDouble();
    const u2 = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.#cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta) + 0;
  }
}
