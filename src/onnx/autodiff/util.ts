/** Small emitters and attribute readers shared by the gradient rules. */
import type { Dim, GraphBuilder, GraphNode, Initializer } from '../graph.js';

export function attrInt(n: GraphNode, name: string, dflt: number): number {
  const a = n.attributes[name];
  return a && a.type === 'int' ? a.value : dflt;
}

export function attrFloat(n: GraphNode, name: string, dflt: number): number {
  const a = n.attributes[name];
  return a && a.type === 'float' ? a.value : dflt;
}

export function attrInts(n: GraphNode, name: string, dflt: readonly number[]): number[] {
  const a = n.attributes[name];
  return a && a.type === 'ints' ? [...a.value] : [...dflt];
}

export function attrString(n: GraphNode, name: string, dflt: string): string {
  const a = n.attributes[name];
  return a && a.type === 'string' ? a.value : dflt;
}

const inits = new WeakMap<GraphBuilder, { count: number; byName: Map<string, Initializer> }>();

/** The initializer called `name`, or undefined for computed values and graph inputs. */
export function initializerOf(g: GraphBuilder, name: string): Initializer | undefined {
  let c = inits.get(g);
  if (!c || c.count !== g.initializers.length) {
    c = { count: g.initializers.length, byName: new Map(g.initializers.map((t) => [t.name, t])) };
    inits.set(g, c);
  }
  return c.byName.get(name);
}

/** The values of a constant int64 initializer (e.g. Slice starts); throws for a computed value. */
export function constInts(g: GraphBuilder, name: string, what: string): number[] {
  const t = initializerOf(g, name);
  if (!t?.data || t.dtype !== 'int64')
    throw new RangeError(`autodiff: ${what} must be a constant int64 initializer`);
  const v = new BigInt64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  return Array.from(v, Number);
}

/** The values of a constant float32 initializer, or undefined when `name` is not one. */
export function constFloats(g: GraphBuilder, name: string): Float32Array | undefined {
  const t = initializerOf(g, name);
  if (!t?.data || t.dtype !== 'float32') return undefined;
  return new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}

/** Whether `name` is a float32 constant whose every element equals `value`. */
export function isConstantFill(g: GraphBuilder, name: string, value: number): boolean {
  const v = constFloats(g, name);
  return v?.every((x) => x === value) ?? false;
}

export const neg = (g: GraphBuilder, x: string) => g.op('Neg', [x], {}, g.shape(x), g.info(x).dtype);

/** x · s for a scalar constant s (x itself when s = 1). */
export function scale(g: GraphBuilder, x: string, s: number): string {
  return s === 1 ? x : g.mul(x, g.constFloat([s], []));
}

const sameDims = (a: readonly Dim[], b: readonly Dim[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Sums a broadcast gradient back to `target`'s shape (numpy broadcasting rules). */
export function unbroadcast(g: GraphBuilder, dy: string, target: readonly Dim[]): string {
  const src = g.shape(dy);
  if (sameDims(src, target)) return dy;
  const lead = src.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < src.length; i++) {
    if (i < lead || (target[i - lead] === 1 && src[i] !== 1)) axes.push(i);
  }
  let r = axes.length ? g.reduceSum(dy, axes, true) : dy;
  if (lead > 0 || !sameDims(g.shape(r), target)) r = reshapeTo(g, r, target);
  return r;
}

/** Reshape to the given dims (a free dimension is kept with 0; it must sit on axis 0 in both). */
export function reshapeTo(g: GraphBuilder, x: string, dims: readonly Dim[]): string {
  if (sameDims(g.shape(x), dims)) return x;
  const src = g.shape(x);
  const spec = dims.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0 && src[0] === d) return 0;
    throw new RangeError(`autodiff: cannot reshape [${src.join(', ')}] to [${dims.join(', ')}]`);
  });
  return g.reshape(x, spec);
}

/** Zeros of a value's shape (a constant when static, else x · 0). */
export function zerosLike(g: GraphBuilder, x: string): string {
  const dims = g.shape(x);
  if (dims.every((d) => typeof d === 'number')) {
    const n = (dims as number[]).reduce((p, d) => p * d, 1);
    return g.constFloat(new Float32Array(n), dims as number[]);
  }
  return g.mul(x, g.constFloat([0], []));
}
