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

/**
 * Interprets a pickle (protocols 2–5, the opcodes torch uses) with the global allowlist above.
 * `file` names the source in error messages.
 */
export function unpickle(bytes: Uint8Array, file: string, options: UnpickleOptions = {}): PyValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let opPos = 0;
  let op = 0;

  // Annotated (not inferred) so that TypeScript narrows after `if (...) fail(...)`.
  const fail: (msg: string) => never = (msg) => {
    throw new FileFormatError(
      file,
      `invalid pickle: ${msg} (opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opPos})`,
    );
  };
  const need = (n: number): number => {
    if (n > bytes.length - pos) fail(`needs ${n} more bytes, only ${bytes.length - pos} left (truncated?)`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length - 1 <= marks[marks.length - 1]))
      fail('stack underflow');
    const v = stack.pop();
    if (v === undefined || v === MARK) return fail('unexpected MARK on the stack');
    return v;
  };
  const top = (): PyValue => {
    const v = pop();
    stack.push(v);
    return v;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    const items = stack.splice(m);
    items.shift(); // the MARK itself
    return items as PyValue[];
  };
  const text = (n: number): string => {
    const at = need(n);
    try {
      return decoder.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1024) fail('unterminated line (truncated?)');
    const s = text(end - pos);
    pos += 1;
    return s;
  };
  const size8 = (): number => {
    const n = dv.getBigUint64(need(8), true);
    if (n > BigInt(bytes.length - pos)) fail(`length ${n} runs past the end of the pickle (truncated?)`);
    return Number(n);
  };
  const dictKey = (k: PyValue): PyKey => {
    if (
      k === null ||
      typeof k === 'string' ||
      typeof k === 'number' ||
      typeof k === 'bigint' ||
      typeof k === 'boolean'
    )
      return k;
    return fail(`unsupported dict key (${describe(k)})`);
  };
  const setItems = (target: PyValue, items: PyValue[]) => {
    if (!(target instanceof PyDict)) fail(`SETITEM(S) on ${describe(target)}, not a dict`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.map.set(dictKey(items[i]), items[i + 1]);
  };
  const append = (target: PyValue, items: PyValue[]) => {
    if (!(target instanceof PyList)) fail(`APPEND(S) on ${describe(target)}, not a list`);
    for (const it of items) target.items.push(it);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const qualified = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(qualified)) {
      throw new FileFormatError(
        file,
        `unsafe or unsupported pickle: global "${qualified}" is not allowed (a state dict only needs tensors; refusing to load)`,
      );
    }
    return new PyGlobal(module, name);
  };
  const memoGet = (i: number): PyValue => {
    const v = memo.get(i);
    if (v === undefined) return fail(`memo key ${i} was never stored`);
    return v;
  };

  for (;;) {
    opPos = pos;
    if (pos >= bytes.length) fail('no STOP opcode before the end of the pickle (truncated?)');
    op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)] > 5) fail(`unsupported pickle protocol ${bytes[pos - 1]}`);
        break;
      case 0x95: // FRAME: a length hint only
        need(8);
        break;
      case 0x2e: {
        // STOP
        const result = pop();
        return result;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(dv.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(dv.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
      case 0x8b: {
        // LONG4
        const n = op === 0x8a ? bytes[need(1)] : dv.getInt32(need(4), true);
        if (n < 0 || n > 64) fail(`integer of ${n} bytes is not supported`);
        const at = need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
        if (n > 0 && bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(dv.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[need(1)]));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(size8()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
      case 0x42: {
        // BINBYTES
        const n = dv.getInt32(need(4), true);
        if (n < 0) fail(`negative length ${n}`);
        const at = need(n);
        stack.push(
          op === 0x54 ? Buffer.from(bytes.subarray(at, at + n)).toString('latin1') : bytes.slice(at, at + n),
        );
        break;
      }
      case 0x55: // SHORT_BINSTRING
      case 0x43: {
        // SHORT_BINBYTES
        const n = bytes[need(1)];
        const at = need(n);
        stack.push(
          op === 0x55 ? Buffer.from(bytes.subarray(at, at + n)).toString('latin1') : bytes.slice(at, at + n),
        );
        break;
      }
      case 0x8e: {
        // BINBYTES8
        const n = size8();
        const at = need(n);
        stack.push(bytes.slice(at, at + n));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict(false));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push(new PyList([]));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x6c: // LIST
        stack.push(new PyList(popMark()));
        break;
      case 0x64: {
        // DICT
        const d = new PyDict(false);
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(bytes[need(1)]));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(dv.getUint32(need(4), true)));
        break;
      case 0x71: // BINPUT
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(dv.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent ids are not supported here');
        stack.push(options.persistentLoad(pid));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail(`REDUCE on ${describe(fn)}, not an allowed callable`);
        if (!(args instanceof PyTuple)) fail(`REDUCE with ${describe(args)} as arguments, not a tuple`);
        stack.push(call(fn, args.items, fail));
        break;
      }
      case 0x62: {
        // BUILD: only torch's `state_dict._metadata` (a dict of attributes on the OrderedDict).
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict) || !(state instanceof PyDict))
          fail(`BUILD of ${describe(obj)} with ${describe(state)} is not supported`);
        obj.attributes = state;
        break;
      }
      default:
        fail('unknown or unsupported opcode');
    }
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

/** Parses a torch.save zip checkpoint holding a state dict; `file` names the source in error messages. */
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
