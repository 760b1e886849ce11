/**
 * A compact protobuf encoder for the ONNX messages this project writes (ModelProto, GraphProto, NodeProto,
 * TensorProto, ValueInfoProto, AttributeProto), and a small decoder the tests use to check the encoding.
 *
 * Large byte fields (initializer raw_data) are kept by reference as chunks and copied once, when the
 * model bytes are assembled in `finish()`.
 */

/** onnx.proto TensorProto.DataType values. */
export const ONNX_DTYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
} as const;
export type OnnxDType = keyof typeof ONNX_DTYPE;

/** onnx.proto AttributeProto.AttributeType values. */
export const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Byte fields at least this long are stored by reference instead of copied into the scratch buffer. */
const BY_REFERENCE_BYTES = 1024;

const utf8 = new TextEncoder();

/** Appends protobuf fields; nested messages and large byte fields are kept as chunks, not copied. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private flushed = 0;

  get length(): number {
    return this.flushed + this.scratch.length;
  }

  private flush(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.flushed += this.scratch.length;
    this.scratch = [];
  }

  private pushChunk(c: Uint8Array): void {
    this.flush();
    this.chunks.push(c);
    this.flushed += c.byteLength;
  }

  private varint(v: number | bigint): void {
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.scratch.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.scratch.push(Number(n));
  }

  private smallVarint(v: number): void {
    if (v < 0 || v > 0x7fffffff || !Number.isInteger(v)) {
      this.varint(v);
      return;
    }
    let n = v;
    while (n >= 0x80) {
      this.scratch.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    this.scratch.push(n);
  }

  private tag(field: number, wire: number): void {
    this.smallVarint((field << 3) | wire);
  }

  /** int32 / int64 / enum / bool field (negative values use 10-byte two's complement, as protobuf does). */
  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.smallVarint(data.byteLength);
    if (data.byteLength >= BY_REFERENCE_BYTES) this.pushChunk(data);
    else for (let i = 0; i < data.byteLength; i++) this.scratch.push(data[i]);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    this.tag(field, WIRE_LEN);
    this.smallVarint(m.length);
    m.flush();
    for (const c of m.chunks) this.pushChunk(c);
    return this;
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.message(field, inner);
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i], true);
    return this.bytes(field, b);
  }

  /** The encoded bytes (the one copy of referenced chunks happens here). */
  finish(): Uint8Array {
    this.flush();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.flushed);
    let pos = 0;
    for (const c of this.chunks) {
      out.set(c, pos);
      pos += c.byteLength;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------
// ONNX message encoders. The field numbers are those of onnx.proto (ONNX 1.x).

export type AttrValue =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'tensor'; value: TensorInit };

export interface TensorInit {
  name: string;
  dtype: OnnxDType;
  dims: readonly number[];
  /** Little-endian raw bytes, referenced (not copied) until the model is assembled. */
  data: Uint8Array;
}

export interface NodeInit {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, AttrValue>>;
}

export interface ValueInit {
  name: string;
  dtype: OnnxDType;
  /** A number is a fixed size, a string a named free dimension (dim_param). */
  dims: readonly (number | string)[];
}

export interface GraphInit {
  name: string;
  nodes: readonly NodeInit[];
  initializers: readonly TensorInit[];
  inputs: readonly ValueInit[];
  outputs: readonly ValueInit[];
}

export interface ModelInit {
  graph: GraphInit;
  irVersion: number;
  opsetVersion: number;
  /** Opsets of other operator domains the nodes use (e.g. onnxruntime's 'com.microsoft.nchwc'). */
  extraOpsets?: readonly { domain: string; version: number }[];
  producerName: string;
  producerVersion?: string;
}

export function encodeTensor(t: TensorInit): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, ONNX_DTYPE[t.dtype]);
  w.string(8, t.name);
  w.bytes(9, t.data);
  return w;
}

function encodeAttribute(name: string, a: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, encodeTensor(a.value));
      break;
    case 'floats':
      w.packedFloats(7, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  return w.int(20, ATTR_TYPE[a.type]);
}

function encodeNode(n: NodeInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, encodeAttribute(k, v));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeValueInfo(v: ValueInit): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) {
    const dim = new ProtoWriter();
    if (typeof d === 'number') dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function encodeGraph(g: GraphInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const v of g.inputs) w.message(11, encodeValueInfo(v));
  for (const v of g.outputs) w.message(12, encodeValueInfo(v));
  return w;
}

/** Serialises a ModelProto. */
export function encodeModel(m: ModelInit): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  w.message(7, encodeGraph(m.graph));
  w.message(8, new ProtoWriter().string(1, '').int(2, m.opsetVersion));
  for (const o of m.extraOpsets ?? []) w.message(8, new ProtoWriter().string(1, o.domain).int(2, o.version));
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------
// Decoder (tests and debugging): a generic wire-format reader plus typed views of the ONNX messages.

export type WireValue = bigint | Uint8Array | number;

/** Reads a varint at `cursor.pos`, advancing it. */
function readVarint(bytes: Uint8Array, cursor: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (cursor.pos >= bytes.byteLength) throw new RangeError('protobuf: truncated varint');
    const b = bytes[cursor.pos++];
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return result;
    shift += 7n;
  }
}

/** Decodes one message into field number → values (varints as bigint, fixed32 as float, LEN as bytes). */
export function decodeFields(bytes: Uint8Array): Map<number, WireValue[]> {
  const out = new Map<number, WireValue[]>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cur = { pos: 0 };
  while (cur.pos < bytes.byteLength) {
    const key = Number(readVarint(bytes, cur));
    const field = key >>> 3;
    const wire = key & 7;
    let value: WireValue;
    if (wire === WIRE_VARINT) value = readVarint(bytes, cur);
    else if (wire === WIRE_I32) {
      value = dv.getFloat32(cur.pos, true);
      cur.pos += 4;
    } else if (wire === WIRE_I64) {
      value = dv.getFloat64(cur.pos, true);
      cur.pos += 8;
    } else if (wire === WIRE_LEN) {
      const n = Number(readVarint(bytes, cur));
      if (cur.pos + n > bytes.byteLength)
        throw new RangeError('protobuf: length-delimited field runs past the end');
      value = bytes.subarray(cur.pos, cur.pos + n);
      cur.pos += n;
    } else throw new RangeError(`protobuf: unsupported wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const utf8d = new TextDecoder();
const str = (v: WireValue | undefined): string => (v instanceof Uint8Array ? utf8d.decode(v) : '');
const num = (v: WireValue | undefined): number =>
  typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : Number(v ?? 0);
const bytesOf = (v: WireValue | undefined): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array(0));

/** Repeated int64 values, packed (one LEN field) or not. */
function packedVarints(values: WireValue[] | undefined): number[] {
  const out: number[] = [];
  for (const v of values ?? []) {
    if (typeof v === 'bigint') out.push(num(v));
    else if (v instanceof Uint8Array) {
      const cur = { pos: 0 };
      while (cur.pos < v.byteLength) out.push(num(readVarint(v, cur)));
    }
  }
  return out;
}

export interface DecodedTensor {
  name: string;
  dataType: number;
  dims: number[];
  rawData: Uint8Array;
}
export interface DecodedAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: string;
  ints?: number[];
  floats?: number[];
  t?: DecodedTensor;
}
export interface DecodedNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, DecodedAttribute>;
}
export interface DecodedValueInfo {
  name: string;
  elemType: number;
  dims: (number | string)[];
}
export interface DecodedModel {
  irVersion: number;
  producerName: string;
  opsetImport: { domain: string; version: number }[];
  graph: {
    name: string;
    nodes: DecodedNode[];
    initializers: DecodedTensor[];
    inputs: DecodedValueInfo[];
    outputs: DecodedValueInfo[];
  };
}

function decodeTensor(b: Uint8Array): DecodedTensor {
  const f = decodeFields(b);
  return {
    dims: packedVarints(f.get(1)),
    dataType: num(f.get(2)?.[0]),
    name: str(f.get(8)?.[0]),
    rawData: bytesOf(f.get(9)?.[0]),
  };
}

function decodeAttribute(b: Uint8Array): DecodedAttribute {
  const f = decodeFields(b);
  const a: DecodedAttribute = { name: str(f.get(1)?.[0]), type: num(f.get(20)?.[0]) };
  if (f.has(2)) a.f = f.get(2)![0] as number;
  if (f.has(3)) a.i = num(f.get(3)![0]);
  if (f.has(4)) a.s = str(f.get(4)![0]);
  if (f.has(5)) a.t = decodeTensor(f.get(5)![0] as Uint8Array);
  if (f.has(7)) {
    const raw = f.get(7)![0] as Uint8Array;
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    a.floats = Array.from({ length: raw.byteLength / 4 }, (_, i) => dv.getFloat32(i * 4, true));
  }
  if (f.has(8)) a.ints = packedVarints(f.get(8));
  return a;
}

function decodeValueInfo(b: Uint8Array): DecodedValueInfo {
  const f = decodeFields(b);
  const type = decodeFields(bytesOf(f.get(2)?.[0]));
  const tensorType = decodeFields(bytesOf(type.get(1)?.[0]));
  const shape = decodeFields(bytesOf(tensorType.get(2)?.[0]));
  const dims = (shape.get(1) ?? []).map((d) => {
    const df = decodeFields(d as Uint8Array);
    return df.has(1) ? num(df.get(1)![0]) : str(df.get(2)?.[0]);
  });
  return { name: str(f.get(1)?.[0]), elemType: num(tensorType.get(1)?.[0]), dims };
}

/** Decodes the parts of a ModelProto that this project writes. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const m = decodeFields(bytes);
  const g = decodeFields(bytesOf(m.get(7)?.[0]));
  return {
    irVersion: num(m.get(1)?.[0]),
    producerName: str(m.get(2)?.[0]),
    opsetImport: (m.get(8) ?? []).map((o) => {
      const f = decodeFields(o as Uint8Array);
      return { domain: str(f.get(1)?.[0]), version: num(f.get(2)?.[0]) };
    }),
    graph: {
      name: str(g.get(2)?.[0]),
      nodes: (g.get(1) ?? []).map((nb) => {
        const f = decodeFields(nb as Uint8Array);
        const attributes: Record<string, DecodedAttribute> = {};
        for (const ab of f.get(5) ?? []) {
          const a = decodeAttribute(ab as Uint8Array);
          attributes[a.name] = a;
        }
        return {
          inputs: (f.get(1) ?? []).map(str),
          outputs: (f.get(2) ?? []).map(str),
          name: str(f.get(3)?.[0]),
          opType: str(f.get(4)?.[0]),
          attributes,
        };
      }),
      initializers: (g.get(5) ?? []).map((t) => decodeTensor(t as Uint8Array)),
      inputs: (g.get(11) ?? []).map((v) => decodeValueInfo(v as Uint8Array)),
      outputs: (g.get(12) ?? []).map((v) => decodeValueInfo(v as Uint8Array)),
    },
  };
}
