/**
 * A small graph IR for ONNX: an in-memory list of nodes with typed helper methods that infer output shapes,
 * serialised only at the end (`toModelBytes`). Initializers reference the caller's weight buffers.
 *
 * Dimensions are numbers, except a named free dimension (e.g. 'batch'), which may only sit on axis 0 and is
 * carried through unchanged. Keeping the IR explicit (op, inputs, outputs, attributes, shapes) is what lets
 * later passes (FLOP counting, a generated backward graph) walk it.
 */
import {
  type AttrValue,
  encodeModel,
  type NodeInit,
  type OnnxDType,
  type TensorInit,
  type ValueInit,
} from './proto.js';

export type Dim = number | string;

export interface ValueInfo {
  dtype: OnnxDType;
  dims: Dim[];
}

export interface GraphNode extends NodeInit {
  attributes: Record<string, AttrValue>;
  name: string;
}

export interface Initializer {
  name: string;
  dtype: OnnxDType;
  dims: number[];
  /** Raw little-endian bytes; undefined for a shape-only (spec) build that is never serialised. */
  data?: Uint8Array;
}

/**
 * A composite op: a group of nodes built as one mathematical op (GroupNorm, SiLU, FIR resampling, attention)
 * and tagged as such when the graph is built, so that autodiff gives it one adjoint instead of differentiating
 * its nodes one by one (and so that a profile can be read by composite: its nodes are named under `kind`).
 */
export interface Composite {
  /** What it computes, e.g. 'GroupNorm'; autodiff looks its adjoint up by this name. */
  kind: string;
  /** A unique name (the scope path and kind), for messages. */
  name: string;
  /** The values it reads from outside, in the order its adjoint returns their gradients. */
  inputs: string[];
  /** Its one result. */
  output: string;
  /** Internal values its adjoint may read (e.g. GroupNorm's normalised x̂), by role. */
  values: Record<string, string>;
  /** Static parameters (group count, ε, the attention scale). */
  attributes: Record<string, number>;
  /** Its nodes. */
  nodes: ReadonlySet<GraphNode>;
}

/** The IR version and opset the graphs are written for (accepted by onnxruntime 1.17+). */
export const IR_VERSION = 8;
export const OPSET = 17;

type ConvOptions = { strides?: number[]; pads?: number[]; group?: number; dilations?: number[] };

function bytesOf(a: Float32Array | BigInt64Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const intAttr = (value: number): AttrValue => ({ type: 'int', value });

const fmt = (d: readonly Dim[]) => `[${d.join(', ')}]`;

export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInit[] = [];
  readonly outputs: ValueInit[] = [];
  /** The composite ops tagged while building (see `composite`). */
  readonly composites: Composite[] = [];
  private readonly values = new Map<string, ValueInfo>();
  private building: Composite | null = null;
  private readonly scopes: string[] = [];
  private counter = 0;

  constructor(readonly name = 'graph') {}

  // ----- naming -----

  /** Runs `fn` with `name` appended to the node-name prefix (module paths make profiles readable). */
  scoped<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private fresh(op: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join('.')}/` : '';
    return `${prefix}${op}_${this.counter++}`;
  }

  /**
   * Builds a composite op: `build` emits its nodes (named under `kind`) and returns its output plus the internal
   * values its adjoint reads. `inputs` are the outside values it reads (its gradients come back in this order).
   */
  composite(
    kind: string,
    inputs: string[],
    attributes: Record<string, number>,
    build: () => { output: string; values?: Record<string, string> },
  ): string {
    if (this.building)
      throw new RangeError(`GraphBuilder: composite ${kind} inside composite ${this.building.name}`);
    for (const i of inputs) this.info(i);
    const first = this.nodes.length;
    const prefix = this.scopes.length ? `${this.scopes.join('.')}/` : '';
    const c: Composite = {
      kind,
      name: `${prefix}${kind}_${this.counter}`,
      inputs: [...inputs],
      output: '',
      values: {},
      attributes: { ...attributes },
      nodes: new Set(),
    };
    this.building = c;
    let r: { output: string; values?: Record<string, string> };
    try {
      r = this.scoped(kind, build);
    } finally {
      this.building = null;
    }
    c.output = r.output;
    c.values = { ...(r.values ?? {}) };
    c.nodes = new Set(this.nodes.slice(first));
    if (!this.nodes.slice(first).some((n) => n.outputs.includes(r.output)))
      throw new RangeError(`GraphBuilder: composite ${c.name} must compute its output`);
    this.composites.push(c);
    return r.output;
  }

  /** Shape and dtype of a value. */
  info(name: string): ValueInfo {
    const v = this.values.get(name);
    if (!v) throw new RangeError(`GraphBuilder: unknown value "${name}"`);
    return v;
  }

  shape(name: string): Dim[] {
    return this.info(name).dims;
  }

  // ----- graph interface -----

  input(name: string, dtype: OnnxDType, dims: Dim[]): string {
    if (this.values.has(name)) throw new RangeError(`GraphBuilder: duplicate value name "${name}"`);
    this.inputs.push({ name, dtype, dims });
    this.values.set(name, { dtype, dims: [...dims] });
    return name;
  }

  /** Marks `value` as a graph output named `name` (an Identity node when the names differ). */
  output(value: string, name = value): string {
    const v = this.info(value);
    const out = name === value ? value : this.op('Identity', [value], {}, v.dims, v.dtype, name);
    this.outputs.push({ name: out, dtype: v.dtype, dims: v.dims });
    return out;
  }

  /** Adds a weight; `data` is referenced, not copied. */
  initializer(name: string, dtype: OnnxDType, dims: number[], data?: Uint8Array): string {
    if (this.values.has(name)) throw new RangeError(`GraphBuilder: duplicate value name "${name}"`);
    this.initializers.push({ name, dtype, dims: [...dims], data });
    this.values.set(name, { dtype, dims: [...dims] });
    return name;
  }

  constFloat(values: Float32Array | readonly number[], dims: number[] = [values.length]): string {
    const a = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.initializer(this.fresh('const'), 'float32', dims, bytesOf(a));
  }

  constInt64(values: readonly number[], dims: number[] = [values.length]): string {
    return this.initializer(this.fresh('const'), 'int64', dims, bytesOf(BigInt64Array.from(values, BigInt)));
  }

  /** Appends a node with one output of the given shape; returns the output name. */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttrValue>,
    dims: Dim[],
    dtype: OnnxDType = 'float32',
    outName?: string,
  ): string {
    for (const i of inputs) if (i !== '') this.info(i);
    const name = this.fresh(opType);
    const out = outName ?? name;
    if (this.values.has(out)) throw new RangeError(`GraphBuilder: duplicate value name "${out}"`);
    this.nodes.push({ opType, inputs, outputs: [out], attributes, name });
    this.values.set(out, { dtype, dims: [...dims] });
    return out;
  }

  /**
   * A node of another operator domain, e.g. onnxruntime's internal 'com.microsoft.nchwc' kernels; the model
   * imports version 1 of every domain its nodes use.
   */
  domainOp(
    domain: string,
    opType: string,
    inputs: string[],
    attributes: Record<string, AttrValue>,
    dims: Dim[],
    dtype: OnnxDType = 'float32',
  ): string {
    const out = this.op(opType, inputs, attributes, dims, dtype);
    this.nodes[this.nodes.length - 1].domain = domain;
    return out;
  }

  // ----- elementwise -----

  private broadcast(a: string, b: string): Dim[] {
    const x = this.shape(a);
    const y = this.shape(b);
    const n = Math.max(x.length, y.length);
    const out: Dim[] = [];
    for (let i = 0; i < n; i++) {
      const p = x[i - n + x.length] ?? 1;
      const q = y[i - n + y.length] ?? 1;
      if (p === q || q === 1) out.push(p);
      else if (p === 1) out.push(q);
      else throw new RangeError(`GraphBuilder: cannot broadcast ${fmt(x)} with ${fmt(y)}`);
    }
    return out;
  }

  private binary(op: string, a: string, b: string): string {
    return this.op(op, [a, b], {}, this.broadcast(a, b), this.info(a).dtype);
  }
  add(a: string, b: string): string {
    return this.binary('Add', a, b);
  }
  sub(a: string, b: string): string {
    return this.binary('Sub', a, b);
  }
  mul(a: string, b: string): string {
    return this.binary('Mul', a, b);
  }
  div(a: string, b: string): string {
    return this.binary('Div', a, b);
  }

  private unary(op: string, x: string, attributes: Record<string, AttrValue> = {}): string {
    const v = this.info(x);
    return this.op(op, [x], attributes, v.dims, v.dtype);
  }
  sigmoid(x: string): string {
    return this.unary('Sigmoid', x);
  }
  sin(x: string): string {
    return this.unary('Sin', x);
  }
  cos(x: string): string {
    return this.unary('Cos', x);
  }
  relu(x: string): string {
    return this.unary('Relu', x);
  }
  tanh(x: string): string {
    return this.unary('Tanh', x);
  }
  softplus(x: string): string {
    return this.unary('Softplus', x);
  }
  /** Exact GELU (erf form), opset-17 spelling: 0.5 x (1 + erf(x / √2)). */
  gelu(x: string): string {
    const erf = this.unary('Erf', this.mul(x, this.constFloat([Math.SQRT1_2], [])));
    return this.mul(this.mul(x, this.add(erf, this.constFloat([1], []))), this.constFloat([0.5], []));
  }
  /** SiLU as x · sigmoid(x) (the pattern onnxruntime fuses), tagged as the composite 'SiLU'. */
  silu(x: string): string {
    return this.composite('SiLU', [x], {}, () => {
      const sigmoid = this.sigmoid(x);
      return { output: this.mul(x, sigmoid), values: { sigmoid } };
    });
  }
  softmax(x: string, axis = -1): string {
    return this.unary('Softmax', x, { axis: { type: 'int', value: axis } });
  }

  // ----- reductions -----

  /** ReduceSum over `axes` (negative counts from the end); opset 13+ takes the axes as an input. */
  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    const { axes: ax, dims } = this.reduced(x, axes, keepdims);
    return this.op('ReduceSum', [x, this.constInt64(ax)], { keepdims: intAttr(keepdims ? 1 : 0) }, dims);
  }
  /** ReduceMean over `axes`; opset 17 still takes them as an attribute. */
  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    const { axes: ax, dims } = this.reduced(x, axes, keepdims);
    return this.op(
      'ReduceMean',
      [x],
      { axes: { type: 'ints', value: ax }, keepdims: intAttr(keepdims ? 1 : 0) },
      dims,
    );
  }
  /** The axes made non-negative and the output dims of a reduction over them. */
  private reduced(x: string, axes: number[], keepdims: boolean): { axes: number[]; dims: Dim[] } {
    const dims = this.shape(x);
    const ax = axes.map((a) => (a < 0 ? a + dims.length : a));
    return {
      axes: ax,
      dims: keepdims ? dims.map((d, i) => (ax.includes(i) ? 1 : d)) : dims.filter((_, i) => !ax.includes(i)),
    };
  }

  // ----- linear algebra -----

  /** Conv with NCHW input `x`, weight `w` (M, C/group, kH, kW) and optional bias `b` (M). */
  conv(x: string, w: string, b?: string, o: ConvOptions = {}): string {
    const [n, c, h, wd] = this.shape(x);
    const [m, cg, kh, kw] = this.shape(w) as number[];
    const strides = o.strides ?? [1, 1];
    const pads = o.pads ?? [0, 0, 0, 0];
    const dil = o.dilations ?? [1, 1];
    const group = o.group ?? 1;
    if (this.shape(x).length !== 4 || this.shape(w).length !== 4)
      throw new RangeError('GraphBuilder.conv: need 4-D x and w');
    if ((c as number) !== cg * group) {
      throw new RangeError(
        `GraphBuilder.conv: input has ${c} channels, weight ${fmt(this.shape(w))} with group ${group} needs ${cg * group}`,
      );
    }
    if (b !== undefined && this.shape(b)[0] !== m)
      throw new RangeError('GraphBuilder.conv: bias size differs from output channels');
    const outH = Math.floor(((h as number) + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / strides[0]) + 1;
    const outW = Math.floor(((wd as number) + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / strides[1]) + 1;
    const attributes: Record<string, AttrValue> = {
      kernel_shape: { type: 'ints', value: [kh, kw] },
      strides: { type: 'ints', value: strides },
      pads: { type: 'ints', value: pads },
      dilations: { type: 'ints', value: dil },
      group: { type: 'int', value: group },
    };
    return this.op('Conv', b === undefined ? [x, w] : [x, w, b], attributes, [n, m, outH, outW]);
  }

  /** numpy-style matmul (batch dims broadcast). */
  matmul(a: string, b: string): string {
    const x = this.shape(a);
    const y = this.shape(b);
    if (x.length < 2 || y.length < 2) throw new RangeError('GraphBuilder.matmul: need rank ≥ 2');
    if (x[x.length - 1] !== y[y.length - 2])
      throw new RangeError(`GraphBuilder.matmul: ${fmt(x)} × ${fmt(y)}`);
    const n = Math.max(x.length, y.length);
    const batch: Dim[] = [];
    for (let i = 0; i < n - 2; i++) {
      const p = x[i - n + x.length] ?? 1;
      const q = y[i - n + y.length] ?? 1;
      batch.push(p === 1 ? q : p);
    }
    return this.op('MatMul', [a, b], {}, [...batch, x[x.length - 2], y[y.length - 1]]);
  }

  /** Gemm y = a · bᵀ + c for a torch Linear: a (N, in), b (out, in), c (out). */
  linear(a: string, w: string, bias?: string): string {
    const [n, k] = this.shape(a);
    const [m, k2] = this.shape(w);
    if (k !== k2)
      throw new RangeError(
        `GraphBuilder.linear: input ${fmt(this.shape(a))} vs weight ${fmt(this.shape(w))}`,
      );
    const inputs = bias === undefined ? [a, w] : [a, w, bias];
    return this.op('Gemm', inputs, { transB: { type: 'int', value: 1 } }, [n, m]);
  }

  // ----- shape ops -----

  /** Reshape; 0 copies the input dim (so a free batch dim is kept), -1 is inferred. */
  reshape(x: string, dims: number[]): string {
    const src = this.shape(x);
    const out: Dim[] = dims.map((d, i) => (d === 0 ? src[i] : d));
    const known = (ds: Dim[]) =>
      ds.reduce<number>((p, d) => p * (typeof d === 'number' && d >= 0 ? d : 1), 1);
    const inf = out.indexOf(-1);
    if (inf >= 0) {
      const symIn = src.filter((d) => typeof d === 'string');
      const symOut = out.filter((d) => typeof d === 'string');
      if (symIn.length !== symOut.length)
        throw new RangeError(`GraphBuilder.reshape: free dims of ${fmt(src)} must be kept`);
      out[inf] = known(src) / known(out);
      if (!Number.isInteger(out[inf]))
        throw new RangeError(`GraphBuilder.reshape: ${fmt(src)} to ${fmt(dims)}`);
    } else if (known(src) !== known(out))
      throw new RangeError(`GraphBuilder.reshape: ${fmt(src)} to ${fmt(dims)}`);
    return this.op('Reshape', [x, this.constInt64(dims)], {}, out, this.info(x).dtype);
  }

  transpose(x: string, perm: number[]): string {
    const s = this.shape(x);
    return this.op(
      'Transpose',
      [x],
      { perm: { type: 'ints', value: perm } },
      perm.map((p) => s[p]),
      this.info(x).dtype,
    );
  }

  unsqueeze(x: string, axes: number[]): string {
    const out = [...this.shape(x)];
    for (const a of [...axes].sort((p, q) => p - q)) out.splice(a, 0, 1);
    return this.op('Unsqueeze', [x, this.constInt64(axes)], {}, out, this.info(x).dtype);
  }

  concat(xs: string[], axis: number): string {
    const shapes = xs.map((x) => this.shape(x));
    const rank = shapes[0].length;
    const ax = axis < 0 ? axis + rank : axis;
    const out = [...shapes[0]];
    out[ax] = shapes.reduce((s, d) => s + (d[ax] as number), 0);
    return this.op('Concat', xs, { axis: { type: 'int', value: axis } }, out, this.info(xs[0]).dtype);
  }

  /** Slice with static starts/ends on the given axes (negative ends count from the end, as in ONNX). */
  slice(x: string, starts: number[], ends: number[], axes: number[]): string {
    const out = [...this.shape(x)];
    axes.forEach((a, i) => {
      const n = out[a] as number;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
      out[a] = Math.max(clamp(ends[i]) - clamp(starts[i]), 0);
    });
    const inputs = [x, this.constInt64(starts), this.constInt64(ends), this.constInt64(axes)];
    return this.op('Slice', inputs, {}, out, this.info(x).dtype);
  }

  /** Constant-mode Pad; `pads` = [x1_begin, x2_begin, …, x1_end, x2_end, …]. */
  pad(x: string, pads: number[], value = 0): string {
    const s = this.shape(x);
    const out = s.map((d, i) =>
      pads[i] === 0 && pads[i + s.length] === 0 ? d : (d as number) + pads[i] + pads[i + s.length],
    );
    const inputs = [x, this.constInt64(pads), this.constFloat([value], [])];
    return this.op('Pad', inputs, { mode: { type: 'string', value: 'constant' } }, out, this.info(x).dtype);
  }

  /** Resize by per-axis scales (1 on N and C for images). */
  resize(
    x: string,
    scales: number[],
    mode: 'nearest' | 'linear',
    coordinateTransformation = 'half_pixel',
  ): string {
    const s = this.shape(x);
    const out = s.map((d, i) => (scales[i] === 1 ? d : Math.floor((d as number) * scales[i])));
    const attributes: Record<string, AttrValue> = {
      mode: { type: 'string', value: mode },
      coordinate_transformation_mode: { type: 'string', value: coordinateTransformation },
    };
    if (mode === 'nearest') attributes.nearest_mode = { type: 'string', value: 'floor' };
    return this.op('Resize', [x, '', this.constFloat(scales)], attributes, out, this.info(x).dtype);
  }

  averagePool(x: string, kernel: number[], strides: number[]): string {
    const [n, c, h, w] = this.shape(x);
    const out = [
      n,
      c,
      Math.floor(((h as number) - kernel[0]) / strides[0]) + 1,
      Math.floor(((w as number) - kernel[1]) / strides[1]) + 1,
    ];
    const attributes: Record<string, AttrValue> = {
      kernel_shape: { type: 'ints', value: kernel },
      strides: { type: 'ints', value: strides },
    };
    return this.op('AveragePool', [x], attributes, out);
  }

  /** InstanceNormalization over axes ≥ 2 with per-channel scale and bias (C). */
  instanceNorm(x: string, scale: string, bias: string, epsilon: number): string {
    return this.op(
      'InstanceNormalization',
      [x, scale, bias],
      { epsilon: { type: 'float', value: epsilon } },
      this.shape(x),
    );
  }

  /**
   * Per-channel affine x · scale + bias on (N, C, …) as one inference-mode BatchNormalization
   * (mean 0, variance 1, epsilon 0: onnxruntime then multiplies by exactly `scale` and adds `bias`).
   */
  channelAffine(x: string, scale: string, bias: string): string {
    const c = this.shape(x)[1] as number;
    const mean = this.constFloat(new Float32Array(c));
    const variance = this.constFloat(new Float32Array(c).fill(1));
    return this.op(
      'BatchNormalization',
      [x, scale, bias, mean, variance],
      { epsilon: { type: 'float', value: 0 } },
      this.shape(x),
    );
  }

  /** Gather rows of `table` (N, D) at int64 `indices`. */
  gather(table: string, indices: string): string {
    const t = this.shape(table);
    return this.op('Gather', [table, indices], { axis: { type: 'int', value: 0 } }, [
      ...this.shape(indices),
      ...t.slice(1),
    ]);
  }

  // ----- output -----

  /** The ONNX ModelProto bytes (initializer data is copied once, here). */
  toModelBytes(producerName = 'scoresde'): Uint8Array {
    const initializers: TensorInit[] = this.initializers.map((t) => {
      if (!t.data)
        throw new RangeError(`GraphBuilder: initializer "${t.name}" has no data (shape-only build)`);
      return { name: t.name, dtype: t.dtype, dims: t.dims, data: t.data };
    });
    const domains = new Set<string>();
    for (const n of this.nodes) if (n.domain) domains.add(n.domain);
    return encodeModel({
      irVersion: IR_VERSION,
      opsetVersion: OPSET,
      extraOpsets: [...domains].map((domain) => ({ domain, version: 1 })),
      producerName,
      graph: { name: this.name, nodes: this.nodes, initializers, inputs: this.inputs, outputs: this.outputs },
    });
  }
}
