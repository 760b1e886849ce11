/**
 * The gradient checker of the autodiff rule tests: builds `build(g, inputs)` into a graph, appends
 * loss = Σ y · v for a fixed random v, asks grad() for d loss / d input and runs it on onnxruntime (float32);
 * then differentiates the same loss through a float64 host reference of the op by central finite differences
 * and compares.
 */
import assert from 'node:assert/strict';
import { grad } from '../../src/onnx/autodiff/grad.js';
import { type Dim, GraphBuilder } from '../../src/onnx/graph.js';
import { OnnxSession } from '../../src/onnx/session.js';
import { Tensor } from '../../src/tensor.js';

export interface InputSpec {
  dims: number[];
  /** Values (rounded to float32); seeded uniform(−1, 1) × `scale` when absent. */
  data?: ArrayLike<number>;
  scale?: number;
  /** Added to every random value (e.g. to keep a divisor away from 0). */
  offset?: number;
  /** An int64 input (indices): fed as given, never differentiated. */
  int64?: boolean;
  /** Passed as a constant initializer instead of a graph input (no gradient expected). */
  constant?: boolean;
  /** A graph input that build() declares itself under this name (a parameter from InputParams). */
  param?: boolean;
  /** The gradient is zero in exact arithmetic (e.g. an attention key bias): checked as |g| ≤ 1e-6. */
  zeroGrad?: boolean;
}

export interface GradCase {
  inputs: Record<string, InputSpec>;
  /** Builds the op(s) under test; returns the output value. */
  build(g: GraphBuilder, x: Record<string, string>): string;
  /** The float64 reference of the same output, row-major. */
  ref(x: Record<string, Float64Array>): Float64Array;
  /** Relative tolerance of the gradient (max|g − fd| / max|fd|); default 1e-4. */
  tol?: number;
}

let seedCounter = 1;
function uniform(n: number, seed: number, scale: number, offset: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.fround(((s / 4294967296) * 2 - 1) * scale + offset);
  }
  return out;
}

const numel = (d: readonly number[]) => d.reduce((p, v) => p * v, 1);

/** Runs the check; returns the measured errors by input name. */
export async function checkGrad(c: GradCase): Promise<Record<string, number>> {
  const values: Record<string, Float64Array> = {};
  for (const [name, s] of Object.entries(c.inputs)) {
    values[name] = s.data
      ? Float64Array.from(s.data, (v) => (s.int64 ? v : Math.fround(v)))
      : uniform(numel(s.dims), 7919 * seedCounter++, s.scale ?? 1, s.offset ?? 0);
  }
  const g = new GraphBuilder('grad-check');
  const names: Record<string, string> = {};
  const wrt: string[] = [];
  const feeds: Record<string, Tensor> = {};
  for (const [name, s] of Object.entries(c.inputs)) {
    if (s.int64) {
      names[name] = g.input(name, 'int64', s.dims);
      feeds[name] = new Tensor(
        'int64',
        BigInt64Array.from(values[name], (v) => BigInt(v)),
        s.dims,
      );
    } else if (s.constant) names[name] = g.constFloat(Float32Array.from(values[name]), s.dims);
    else {
      names[name] = s.param ? name : g.input(name, 'float32', s.dims);
      feeds[name] = new Tensor('float32', Float32Array.from(values[name]), s.dims);
      wrt.push(name);
    }
  }
  const y = c.build(g, names);
  for (const w of wrt)
    assert.ok(
      g.inputs.some((i) => i.name === w),
      `input ${w} declared`,
    );
  const yDims = g.shape(y) as Dim[];
  const y0 = c.ref(values);
  assert.equal(numel(yDims as number[]), y0.length, 'reference output size');
  const v = uniform(y0.length, 104729, 1, 0);
  const prod = g.mul(y, g.constFloat(Float32Array.from(v), yDims as number[]));
  const axes = yDims.map((_, i) => i);
  const loss = g.op('ReduceSum', [prod, g.constInt64(axes)], { keepdims: { type: 'int', value: 0 } }, []);
  const grads = grad(g, loss, wrt);
  for (const w of wrt) g.output(grads.get(w)!, `grad_${w}`);
  const session = await OnnxSession.create(g.toModelBytes(), { intraOpThreads: 1 });
  let out: Map<string, Tensor>;
  try {
    out = await session.run(feeds);
  } finally {
    await session.release();
  }

  const lossAt = (vals: Record<string, Float64Array>) => {
    const r = c.ref(vals);
    let s = 0;
    for (let i = 0; i < r.length; i++) s += r[i] * v[i];
    return s;
  };
  const errors: Record<string, number> = {};
  for (const w of wrt) {
    const x = values[w];
    const fd = new Float64Array(x.length);
    const h = 1e-6 * Math.max(1, ...Array.from(x, Math.abs));
    for (let i = 0; i < x.length; i++) {
      const keep = x[i];
      x[i] = keep + h;
      const up = lossAt(values);
      x[i] = keep - h;
      const down = lossAt(values);
      x[i] = keep;
      fd[i] = (up - down) / (2 * h);
    }
    const got = out.get(`grad_${w}`)!.data as Float32Array;
    assert.equal(got.length, fd.length, `${w}: gradient size`);
    if (c.inputs[w].zeroGrad) {
      const m = Math.max(...Array.from(got, Math.abs), ...Array.from(fd, Math.abs));
      assert.ok(m <= 1e-6, `${w}: gradient ${m.toExponential(2)}, zero in exact arithmetic`);
      errors[w] = m;
      continue;
    }
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < fd.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - fd[i]) || (Number.isNaN(got[i]) ? Infinity : 0));
      scale = Math.max(scale, Math.abs(fd[i]));
    }
    errors[w] = diff / scale;
    const tol = c.tol ?? 1e-4;
    assert.ok(scale > 0, `${w}: finite differences are all zero (a vacuous case)`);
    assert.ok(errors[w] <= tol, `${w}: gradient rel error ${errors[w].toExponential(2)} > ${tol}`);
  }
  return errors;
}

// ----- float64 references -----

/** Row-major strides. */
export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

/** numpy broadcasting of a binary op. */
export function broadcast(
  a: Float64Array,
  ad: number[],
  b: Float64Array,
  bd: number[],
  f: (p: number, q: number) => number,
): Float64Array {
  const r = Math.max(ad.length, bd.length);
  const pa = [...new Array(r - ad.length).fill(1), ...ad];
  const pb = [...new Array(r - bd.length).fill(1), ...bd];
  const od = pa.map((d, i) => Math.max(d, pb[i]));
  const sa = strides(pa);
  const sb = strides(pb);
  const so = strides(od);
  const out = new Float64Array(numel(od));
  for (let i = 0; i < out.length; i++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < r; k++) {
      const c = Math.floor(i / so[k]) % od[k];
      if (pa[k] !== 1) ia += c * sa[k];
      if (pb[k] !== 1) ib += c * sb[k];
    }
    out[i] = f(a[ia], b[ib]);
  }
  return out;
}

/** Permutes axes (ONNX Transpose). */
export function transpose(x: Float64Array, dims: number[], perm: number[]): Float64Array {
  const od = perm.map((p) => dims[p]);
  const si = strides(dims);
  const so = strides(od);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let k = 0; k < od.length; k++) src += (Math.floor(i / so[k]) % od[k]) * si[perm[k]];
    out[i] = x[src];
  }
  return out;
}

/** Batched matmul with broadcast batch dims. */
export function matmul(a: Float64Array, ad: number[], b: Float64Array, bd: number[]): Float64Array {
  const [n, k] = ad.slice(-2);
  const m = bd[bd.length - 1];
  const ba = ad.slice(0, -2);
  const bb = bd.slice(0, -2);
  const r = Math.max(ba.length, bb.length);
  const pa = [...new Array(r - ba.length).fill(1), ...ba];
  const pb = [...new Array(r - bb.length).fill(1), ...bb];
  const od = pa.map((d, i) => Math.max(d, pb[i]));
  const so = strides(od);
  const sa = strides(pa);
  const sb = strides(pb);
  const out = new Float64Array(numel(od) * n * m);
  for (let t = 0; t < numel(od); t++) {
    let ia = 0;
    let ib = 0;
    for (let q = 0; q < r; q++) {
      const c = Math.floor(t / so[q]) % od[q];
      if (pa[q] !== 1) ia += c * sa[q];
      if (pb[q] !== 1) ib += c * sb[q];
    }
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += a[ia * n * k + i * k + l] * b[ib * k * m + l * m + j];
        out[t * n * m + i * m + j] = s;
      }
  }
  return out;
}

/** Sum over the given axes (keepdims layout irrelevant: row-major result of the kept axes). */
export function reduce(
  x: Float64Array,
  dims: number[],
  axes: number[],
  f: (acc: number, v: number) => number = (a, v) => a + v,
): Float64Array {
  const od = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const so = strides(od);
  const si = strides(dims);
  const out = new Float64Array(numel(od));
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    for (let k = 0; k < dims.length; k++) {
      const c = Math.floor(i / si[k]) % dims[k];
      if (!axes.includes(k)) o += c * so[k];
    }
    out[o] = f(out[o], x[i]);
  }
  return out;
}
