/**
 * A small typed-array tensor: a dtype, a flat row-major buffer and its dims.
 * Deliberately minimal: it carries data across the public API; the maths happens in
 * ONNX graphs (the UNet) or in plain loops over `.data` (schedulers, samplers).
 */

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'uint8' | 'bool';

/** The typed array that backs each dtype (float16 / bfloat16 keep their raw bits). */
export interface DataTypeMap {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}

export type TypedArray = DataTypeMap[DType];

/** The typed-array constructor of each dtype. */
export const ARRAY_TYPES: { [D in DType]: new (n: number) => DataTypeMap[D] } = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  bool: 1,
};

/** Number of elements of a shape; throws on negative or non-integer dims. */
export function numelOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`invalid dimension ${d} in shape [${dims.join(', ')}]`);
    n *= d;
  }
  return n;
}

export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly data: DataTypeMap[D];
  readonly dims: readonly number[];

  constructor(dtype: D, data: DataTypeMap[D], dims: readonly number[]) {
    const n = numelOf(dims);
    if (!(data instanceof ARRAY_TYPES[dtype])) {
      throw new TypeError(
        `Tensor: ${dtype} data must be a ${ARRAY_TYPES[dtype].name}, got ${data?.constructor?.name}`,
      );
    }
    if (data.length !== n) {
      throw new RangeError(`Tensor: shape [${dims.join(', ')}] needs ${n} elements, data has ${data.length}`);
    }
    this.dtype = dtype;
    this.data = data;
    this.dims = Object.freeze([...dims]);
  }

  /** A zero-filled tensor. */
  static zeros<D extends DType = 'float32'>(dims: readonly number[], dtype: D = 'float32' as D): Tensor<D> {
    return new Tensor(dtype, new ARRAY_TYPES[dtype](numelOf(dims)), dims);
  }

  get numel(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.dims.length;
  }

  /** Same data, new dims (no copy). */
  reshape(dims: readonly number[]): Tensor<D> {
    return new Tensor(this.dtype, this.data, dims);
  }

  /** A deep copy. */
  clone(): Tensor<D> {
    return new Tensor(this.dtype, this.data.slice() as DataTypeMap[D], this.dims);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.dims.join(', ')}])`;
  }
}

/** Shorthand for a float32 tensor. */
export function tensor(data: Float32Array | readonly number[], dims?: readonly number[]): Tensor<'float32'> {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  return new Tensor('float32', arr, dims ?? [arr.length]);
}

/** Throws unless `t` is a float32 tensor, optionally of the given shape (-1 = any size). */
export function assertFloat32(
  t: Tensor,
  name: string,
  dims?: readonly number[],
): asserts t is Tensor<'float32'> {
  if (!(t instanceof Tensor)) throw new TypeError(`${name} must be a Tensor`);
  if (t.dtype !== 'float32') throw new TypeError(`${name} must be float32, got ${t.dtype}`);
  if (dims) {
    const ok = dims.length === t.dims.length && dims.every((d, i) => d === -1 || d === t.dims[i]);
    if (!ok) throw new RangeError(`${name} must have shape [${dims.join(', ')}], got [${t.dims.join(', ')}]`);
  }
}
