/**
 * Loads `torch.save(state_dict)` checkpoints (.bin/.pt/.pth) without executing anything.
 *
 * The file is a ZIP holding `<prefix>/data.pkl` (a pickle of an OrderedDict of tensors) and the raw little-endian
 * storages in `<prefix>/data/<key>`. The pickle is interpreted by a small stack machine that knows only the opcodes
 * torch emits and resolves only the globals a state dict needs; anything else (`os.system`, `builtins.eval`, …) is
 * refused with a FileFormatError naming it. Every length is checked against the remaining bytes before it is read,
 * and every tensor's extent against its storage, so hostile files fail cleanly instead of crashing or allocating.
 */
import { FileFormatError } from '../errors.js';
import { type DataTypeMap, DTYPE_SIZE, type DType, Tensor, type TypedArray } from '../tensor.js';
import { readInputFile } from './read-file.js';
import { viewAs } from './safetensors.js';
import { looksLikeZip, ZipArchive } from './zip.js';

// ---------------------------------------------------------------------------------------------------------------
// Python values as the unpickler builds them.

/** A Python global the allowlist resolved (a callable or a storage class). */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
/** dict or collections.OrderedDict; keys are Python scalars (insertion order kept, as in Python ≥ 3.7). */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** State set by BUILD (torch stores the state dict's `_metadata` here). */
  attributes: PyDict | undefined;
  constructor(readonly ordered: boolean) {}
}
/** A storage referenced through a persistent id: ('storage', <class>, key, location, numel). */
export class TorchStorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
  ) {}
}
/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}
export type PyKey = string | number | bigint | boolean | null;
export type PyValue =
  | PyKey
  | Uint8Array
  | PyGlobal
  | PyTuple
  | PyList
  | PyDict
  | TorchStorageRef
  | TorchTensorRef;

/** The pickle machine's MARK sentinel. */
const MARK = Symbol('MARK');
type StackItem = PyValue | typeof MARK;

/** Storage classes torch pickles in persistent ids, and the dtype of their data. */
const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** Every global a state-dict pickle may name. Nothing else is ever resolved. */
const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

function describe(v: StackItem): string {
  if (v === MARK) return 'a MARK';
  if (v === null) return 'None';
  if (typeof v === 'string') return 'a str';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an int' : 'a float';
  if (typeof v === 'bigint') return 'an int';
  if (typeof v === 'boolean') return 'a bool';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof PyTuple) return `a ${v.items.length}-tuple`;
  if (v instanceof PyList) return 'a list';
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof TorchStorageRef) return 'a storage';
  return 'a tensor';
}

// ---------------------------------------------------------------------------------------------------------------
// The unpickler.

export interface UnpickleOptions {
  /** Called for BINPERSID with the persistent id; the default refuses persistent ids. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The pickle machine's state, and the reads and stack moves its opcodes share. */
class Unpickler {
  readonly dv: DataView;
  readonly stack: StackItem[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, PyValue>();
  pos = 0;
  /** The opcode being run and where it starts, for error messages. */
  opPos = 0;
  op = 0;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly options: UnpickleOptions,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(msg: string): never {
    const op = `opcode 0x${this.op.toString(16).padStart(2, '0')} at byte ${this.opPos}`;
    throw new FileFormatError(this.file, `invalid pickle: ${msg} (${op})`);
  }
  /** Claims the next `n` bytes; returns where they start. */
  need(n: number): number {
    const left = this.bytes.length - this.pos;
    if (n > left) this.fail(`needs ${n} more bytes, only ${left} left (truncated?)`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(): number {
    return this.bytes[this.need(1)];
  }
  push(v: PyValue): void {
    this.stack.push(v);
  }
  pop(): PyValue {
    const { stack, marks } = this;
    if (stack.length === 0 || (marks.length > 0 && stack.length - 1 <= marks[marks.length - 1]))
      this.fail('stack underflow');
    const v = stack.pop();
    if (v === undefined || v === MARK) return this.fail('unexpected MARK on the stack');
    return v;
  }
  top(): PyValue {
    const v = this.pop();
    this.stack.push(v);
    return v;
  }
  /** The items above the last MARK, which is removed with them. */
  popMark(): PyValue[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail('no MARK on the stack');
    const items = this.stack.splice(m);
    items.shift(); // the MARK itself
    return items as PyValue[];
  }
  text(n: number): string {
    const at = this.need(n);
    try {
      return decoder.decode(this.bytes.subarray(at, at + n));
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > 1024) this.fail('unterminated line (truncated?)');
    const s = this.text(end - this.pos);
    this.pos += 1;
    return s;
  }
  size8(): number {
    const n = this.dv.getBigUint64(this.need(8), true);
    if (n > BigInt(this.bytes.length - this.pos))
      this.fail(`length ${n} runs past the end of the pickle (truncated?)`);
    return Number(n);
  }
  /** `n` bytes as a Python 2 str (latin-1) or as bytes. */
  binary(n: number, asString: boolean): string | Uint8Array {
    const at = this.need(n);
    return asString
      ? Buffer.from(this.bytes.subarray(at, at + n)).toString('latin1')
      : this.bytes.slice(at, at + n);
  }
  /** LONG1 / LONG4: a little-endian two's-complement integer of `n` bytes. */
  long(n: number): number | bigint {
    if (n < 0 || n > 64) this.fail(`integer of ${n} bytes is not supported`);
    const at = this.need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[at + i]);
    if (n > 0 && this.bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  dictKey(k: PyValue): PyKey {
    if (k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k)) return k as PyKey;
    return this.fail(`unsupported dict key (${describe(k)})`);
  }
  setItems(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyDict)) this.fail(`SETITEM(S) on ${describe(target)}, not a dict`);
    if (items.length % 2 !== 0) this.fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.map.set(this.dictKey(items[i]), items[i + 1]);
  }
  append(target: PyValue, items: PyValue[]): void {
    if (!(target instanceof PyList)) this.fail(`APPEND(S) on ${describe(target)}, not a list`);
    for (const it of items) target.items.push(it);
  }
  resolveGlobal(module: string, name: string): PyGlobal {
    const qualified = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(qualified)) {
      throw new FileFormatError(
        this.file,
        `unsafe or unsupported pickle: global "${qualified}" is not allowed (a state dict only needs tensors; refusing to load)`,
      );
    }
    return new PyGlobal(module, name);
  }
  memoGet(i: number): PyValue {
    const v = this.memo.get(i);
    if (v === undefined) return this.fail(`memo key ${i} was never stored`);
    return v;
  }
}

const STOP = 0x2e;

/** What each opcode torch emits does (all but STOP, which ends the run); any other opcode is refused. */
const OPCODES = new Map<number, (m: Unpickler) => void>([
  // Framing and the stack.
  [0x80, protocol], // PROTO
  [0x95, (m) => void m.need(8)], // FRAME: a length hint only
  [0x28, mark], // MARK
  [0x30, (m) => void m.pop()], // POP
  [0x31, (m) => void m.popMark()], // POP_MARK
  [0x32, (m) => m.push(m.top())], // DUP
  // Scalars.
  [0x4e, (m) => m.push(null)], // NONE
  [0x88, (m) => m.push(true)], // NEWTRUE
  [0x89, (m) => m.push(false)], // NEWFALSE
  [0x4a, (m) => m.push(m.dv.getInt32(m.need(4), true))], // BININT
  [0x4b, (m) => m.push(m.u8())], // BININT1
  [0x4d, (m) => m.push(m.dv.getUint16(m.need(2), true))], // BININT2
  [0x8a, (m) => m.push(m.long(m.u8()))], // LONG1
  [0x8b, (m) => m.push(m.long(m.dv.getInt32(m.need(4), true)))], // LONG4
  [0x47, (m) => m.push(m.dv.getFloat64(m.need(8), false))], // BINFLOAT (big-endian)
  // Strings and bytes.
  [0x58, (m) => m.push(m.text(m.dv.getUint32(m.need(4), true)))], // BINUNICODE
  [0x8c, (m) => m.push(m.text(m.u8()))], // SHORT_BINUNICODE
  [0x8d, (m) => m.push(m.text(m.size8()))], // BINUNICODE8
  [0x54, (m) => m.push(m.binary(binLength(m), true))], // BINSTRING (Python 2 str)
  [0x42, (m) => m.push(m.binary(binLength(m), false))], // BINBYTES
  [0x55, (m) => m.push(m.binary(m.u8(), true))], // SHORT_BINSTRING
  [0x43, (m) => m.push(m.binary(m.u8(), false))], // SHORT_BINBYTES
  [0x8e, (m) => m.push(m.binary(m.size8(), false))], // BINBYTES8
  // Containers.
  [0x7d, (m) => m.push(new PyDict(false))], // EMPTY_DICT
  [0x5d, (m) => m.push(new PyList([]))], // EMPTY_LIST
  [0x29, (m) => m.push(new PyTuple([]))], // EMPTY_TUPLE
  [0x85, (m) => m.push(new PyTuple(popN(m, 1)))], // TUPLE1
  [0x86, (m) => m.push(new PyTuple(popN(m, 2)))], // TUPLE2
  [0x87, (m) => m.push(new PyTuple(popN(m, 3)))], // TUPLE3
  [0x74, (m) => m.push(new PyTuple(m.popMark()))], // TUPLE
  [0x6c, (m) => m.push(new PyList(m.popMark()))], // LIST
  [0x64, (m) => m.push(dictOf(m, m.popMark()))], // DICT
  [0x73, (m) => m.setItems(...targetAnd(m, popN(m, 2)))], // SETITEM
  [0x75, (m) => m.setItems(...targetAnd(m, m.popMark()))], // SETITEMS
  [0x61, (m) => m.append(...targetAnd(m, popN(m, 1)))], // APPEND
  [0x65, (m) => m.append(...targetAnd(m, m.popMark()))], // APPENDS
  // The memo.
  [0x68, (m) => m.push(m.memoGet(m.u8()))], // BINGET
  [0x6a, (m) => m.push(m.memoGet(m.dv.getUint32(m.need(4), true)))], // LONG_BINGET
  [0x71, (m) => void m.memo.set(m.u8(), m.top())], // BINPUT
  [0x72, (m) => void m.memo.set(m.dv.getUint32(m.need(4), true), m.top())], // LONG_BINPUT
  [0x94, (m) => void m.memo.set(m.memo.size, m.top())], // MEMOIZE
  // Globals and objects: only the allowlisted ones.
  [0x63, (m) => m.push(m.resolveGlobal(m.line(), m.line()))], // GLOBAL "module\nname\n"
  [0x93, stackGlobal], // STACK_GLOBAL
  [0x51, persistentId], // BINPERSID
  [0x52, reduce], // REDUCE
  [0x62, build], // BUILD
]);

function protocol(m: Unpickler): void {
  const version = m.u8();
  if (version > 5) m.fail(`unsupported pickle protocol ${version}`);
}

function mark(m: Unpickler): void {
  m.marks.push(m.stack.length);
  m.stack.push(MARK);
}

/** BINSTRING / BINBYTES: a signed 4-byte length, refused when negative. */
function binLength(m: Unpickler): number {
  const n = m.dv.getInt32(m.need(4), true);
  if (n < 0) m.fail(`negative length ${n}`);
  return n;
}

/** The top `n` items, in stack order. */
function popN(m: Unpickler, n: number): PyValue[] {
  const items: PyValue[] = [];
  for (let i = 0; i < n; i++) items.unshift(m.pop());
  return items;
}

/** The item below `items` (SETITEM(S) / APPEND(S) add to it and leave it on the stack), then the items. */
function targetAnd(m: Unpickler, items: PyValue[]): [PyValue, PyValue[]] {
  return [m.top(), items];
}

function dictOf(m: Unpickler, items: PyValue[]): PyDict {
  const d = new PyDict(false);
  m.setItems(d, items);
  return d;
}

function stackGlobal(m: Unpickler): void {
  const [module, name] = popN(m, 2);
  if (typeof module !== 'string' || typeof name !== 'string') m.fail('STACK_GLOBAL needs two strings');
  m.push(m.resolveGlobal(module, name));
}

function persistentId(m: Unpickler): void {
  const pid = m.pop();
  if (!m.options.persistentLoad) m.fail('persistent ids are not supported here');
  m.push(m.options.persistentLoad(pid));
}

function reduce(m: Unpickler): void {
  const [fn, args] = popN(m, 2);
  if (!(fn instanceof PyGlobal)) m.fail(`REDUCE on ${describe(fn)}, not an allowed callable`);
  if (!(args instanceof PyTuple)) m.fail(`REDUCE with ${describe(args)} as arguments, not a tuple`);
  m.push(call(fn, args.items, (msg) => m.fail(msg)));
}

/** BUILD: only torch's `state_dict._metadata` (a dict of attributes on the OrderedDict). */
function build(m: Unpickler): void {
  const state = m.pop();
  const obj = m.top();
  if (!(obj instanceof PyDict) || !(state instanceof PyDict))
    m.fail(`BUILD of ${describe(obj)} with ${describe(state)} is not supported`);
  obj.attributes = state;
}

/**
 * Interprets a pickle (protocols 2–5, the opcodes torch uses) with the global allowlist above.
 * `file` names the source in error messages.
 */
export function unpickle(bytes: Uint8Array, file: string, options: UnpickleOptions = {}): PyValue {
  const m: Unpickler = new Unpickler(bytes, file, options);
  for (;;) {
    m.opPos = m.pos;
    if (m.pos >= bytes.length) m.fail('no STOP opcode before the end of the pickle (truncated?)');
    m.op = bytes[m.pos++];
    if (m.op === STOP) return m.pop();
    const run = OPCODES.get(m.op);
    if (!run) m.fail('unknown or unsupported opcode');
    run(m);
  }
}

const isInt = (v: PyValue): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const intTuple = (v: PyValue): v is PyTuple =>
  v instanceof PyTuple && v.items.every((x) => isInt(x) && x >= 0);

/** Applies an allowed callable. */
function call(fn: PyGlobal, args: readonly PyValue[], fail: (msg: string) => never): PyValue {
  switch (fn.qualifiedName) {
    case 'collections.OrderedDict':
      if (args.length !== 0) fail('OrderedDict(...) with arguments is not supported');
      return new PyDict(true);
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride] = args;
      if (args.length < 6 || args.length > 7)
        fail(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${args.length}`);
      if (!(storage instanceof TorchStorageRef)) fail(`_rebuild_tensor_v2 storage is ${describe(storage)}`);
      if (!isInt(offset) || offset < 0) fail('_rebuild_tensor_v2 storage offset is not a non-negative int');
      if (!intTuple(size) || !intTuple(stride))
        fail('_rebuild_tensor_v2 size/stride are not tuples of non-negative ints');
      const dims = size.items as number[];
      const strides = stride.items as number[];
      if (dims.length !== strides.length)
        fail(`tensor size has ${dims.length} dims but stride has ${strides.length}`);
      return new TorchTensorRef(storage, offset, dims, strides);
    }
    case 'torch._utils._rebuild_parameter': {
      // (data, requires_grad, backward_hooks): a Parameter is just its data here.
      if (args.length !== 3 || !(args[0] instanceof TorchTensorRef))
        fail('_rebuild_parameter expects (tensor, requires_grad, hooks)');
      return args[0];
    }
    default:
      return fail(`${fn.qualifiedName} is not callable`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// torch.save zip checkpoints.

/** Copies of strided views may total at most this many times the file's size (real checkpoints need ≤ 1×). */
const MAX_COPY_RATIO = 4;

/** The first bytes of a legacy (pre-zip) torch.save file: protocol 2, then LONG1 of the magic 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function isLegacyTorchFile(bytes: Uint8Array): boolean {
  const pickled = LEGACY_MAGIC.every((b, i) => bytes[i] === b);
  const tar = bytes.length > 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar';
  return pickled || tar;
}

/**
 * Parses a torch.save zip checkpoint holding a state dict; `file` names the source in error messages. Long
 * because each step (zip, pickle, storages, strided copies) checks its sizes before the next one allocates.
 */
export function parseTorchCheckpoint(bytes: Uint8Array, file = '<buffer>'): Map<string, Tensor> {
  if (!looksLikeZip(bytes)) {
    if (isLegacyTorchFile(bytes)) {
      throw new FileFormatError(
        file,
        'legacy (non-zip) torch.save format is not supported; re-save it with torch >= 1.6 (default zip serialization) or convert it to safetensors',
      );
    }
    throw new FileFormatError(file, 'not a torch.save checkpoint (expected a ZIP archive)');
  }
  const zip = ZipArchive.open(bytes, file);
  const pickles = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pickles.length !== 1) {
    throw new FileFormatError(
      file,
      pickles.length === 0
        ? 'torch checkpoint has no data.pkl'
        : `torch checkpoint has ${pickles.length} data.pkl entries`,
    );
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length); // "<stem>/" or ""
  const byteorder = zip.entries.has(`${prefix}byteorder`)
    ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim()
    : 'little';
  if (byteorder !== 'little')
    throw new FileFormatError(file, `torch checkpoint byte order "${byteorder}" is not supported`);

  const storages = new Map<string, TorchStorageRef>();
  const persistentLoad = (pid: PyValue): PyValue => {
    const bad: (msg: string) => never = (msg) => {
      throw new FileFormatError(file, `invalid torch persistent id: ${msg}`);
    };
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage')
      bad(`expected ('storage', class, key, location, numel), got ${describe(pid)}`);
    const [, cls, key, , numel] = pid.items;
    if (!(cls instanceof PyGlobal) || cls.module !== 'torch' || !Object.hasOwn(STORAGE_DTYPES, cls.name))
      bad(`storage class is ${describe(cls)}`);
    if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key)) bad('storage key is not a short name');
    if (!isInt(numel) || numel < 0) bad(`storage "${key}" has an invalid element count`);
    const dtype = STORAGE_DTYPES[cls.name];
    const existing = storages.get(key);
    if (existing) {
      if (existing.dtype !== dtype || existing.numel !== numel)
        bad(`storage "${key}" is referenced with different dtypes or sizes`);
      return existing;
    }
    const ref = new TorchStorageRef(key, dtype, numel);
    storages.set(key, ref);
    return ref;
  };
  const root = unpickle(zip.read(pickles[0]), `${file} (${pickles[0]})`, { persistentLoad });
  if (!(root instanceof PyDict))
    throw new FileFormatError(file, `torch checkpoint holds ${describe(root)}, not a state dict`);

  const storageElements = new Map<TorchStorageRef, TypedArray>();
  // Strided views are copied; bound the copies so that many views of one storage cannot multiply the file's size.
  const copyBudget = { bytes: MAX_COPY_RATIO * bytes.length };
  const out = new Map<string, Tensor>();
  for (const [key, value] of root.map) {
    if (typeof key !== 'string')
      throw new FileFormatError(file, `state dict key ${String(key)} is not a string`);
    if (!(value instanceof TorchTensorRef))
      throw new FileFormatError(file, `state dict entry "${key}" is ${describe(value)}, not a tensor`);
    const s = value.storage;
    let elements = storageElements.get(s);
    if (!elements) {
      const entry = `${prefix}data/${s.key}`;
      if (!zip.entries.has(entry))
        throw new FileFormatError(file, `storage "${s.key}" of "${key}" is missing (no ZIP entry ${entry})`);
      const needed = s.numel * DTYPE_SIZE[s.dtype];
      const size = zip.entries.get(entry)?.size;
      // Checked before reading, so that a compressed entry is never inflated beyond what its tensors need.
      if (size !== needed) {
        throw new FileFormatError(
          file,
          `storage "${s.key}" has ${size} bytes, ${s.numel} × ${s.dtype} needs ${needed}`,
        );
      }
      const data = zip.read(entry, { expectedSize: needed });
      elements = viewAs(data, 0, s.numel, s.dtype);
      storageElements.set(s, elements);
    }
    const error = (msg: string) => new FileFormatError(file, `tensor "${key}": ${msg}`);
    out.set(key, materialise(value, elements, copyBudget, error));
  }
  return out;
}

/** The tensor `ref` describes, as a view of its storage's `elements` where contiguous, else as a contiguous copy. */
function materialise(
  ref: TorchTensorRef,
  elements: TypedArray,
  copyBudget: { bytes: number },
  error: (msg: string) => Error,
): Tensor {
  const { dtype, numel: storageNumel } = ref.storage;
  const { size, stride, offset } = ref;
  let numel = 1;
  let last = offset; // highest storage index touched
  for (let i = 0; i < size.length; i++) {
    numel *= size[i];
    if (!Number.isSafeInteger(numel)) throw error(`shape [${size.join(', ')}] is too large`);
  }
  if (numel === 0) return Tensor.zeros(size, dtype);
  for (let i = 0; i < size.length; i++) last += (size[i] - 1) * stride[i];
  if (last >= storageNumel) {
    throw error(
      `shape [${size.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} reaches element ${last}, the storage has ${storageNumel}`,
    );
  }
  let contiguous = true;
  for (let i = size.length - 1, expect = 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= size[i];
  }
  if (contiguous)
    return new Tensor(dtype, elements.subarray(offset, offset + numel) as DataTypeMap[DType], size);
  // A strided view (e.g. a transpose) is copied; an expanded one (stride 0) could be far larger than its file.
  if (numel > storageNumel)
    throw error(
      `strided view of ${numel} elements is larger than its storage (${storageNumel}); refusing to expand it`,
    );
  copyBudget.bytes -= numel * DTYPE_SIZE[dtype];
  if (copyBudget.bytes < 0)
    throw error(
      `copies of strided views would exceed ${MAX_COPY_RATIO}× the size of the file; refusing to copy more`,
    );
  const src = elements as unknown as ArrayLike<number | bigint> & { [i: number]: number | bigint };
  const out = Tensor.zeros(size, dtype);
  const dst = out.data as unknown as { [i: number]: number | bigint };
  const rank = size.length;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let n = 0; n < numel; n++) {
    dst[n] = src[at];
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      at += stride[d];
      if (index[d] < size[d]) break;
      at -= stride[d] * size[d];
      index[d] = 0;
    }
  }
  return out;
}

/** Reads a torch.save zip checkpoint (.bin/.pt/.pth) holding a state dict. */
export async function loadTorchCheckpoint(path: string): Promise<Map<string, Tensor>> {
  return parseTorchCheckpoint(await readInputFile(path), path);
}
