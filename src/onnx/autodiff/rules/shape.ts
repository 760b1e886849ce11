/** Gradient rules of the data-movement ops: Reshape, Transpose, (Un)squeeze, Flatten, Concat, Slice, Pad, Gather. */
import type { AttrValue } from '../../proto.js';
import type { GradRule } from '../types.js';
import { attrInt, attrInts, attrString, constInts, reshapeTo, zerosLike } from '../util.js';

/** Any pure re-view of the data: the gradient is dy viewed in the input's shape. */
const reshapeBack: GradRule = ({ g, node, dy }) => [reshapeTo(g, dy, g.shape(node.inputs[0]))];

/** Transpose by the inverse permutation. */
const Transpose: GradRule = ({ g, node, dy }) => {
  const perm = attrInts(node, 'perm', []);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return [g.transpose(dy, inv)];
};

/** Concat: each input gets its slice of dy along the axis. */
const Concat: GradRule = ({ g, node, dy, needs }) => {
  const rank = g.shape(dy).length;
  const a = attrInt(node, 'axis', 0);
  const axis = a < 0 ? a + rank : a;
  let start = 0;
  return node.inputs.map((x, i) => {
    const len = g.shape(x)[axis] as number;
    const s = start;
    start += len;
    return needs(i) ? g.slice(dy, [s], [s + len], [axis]) : undefined;
  });
};

/** Slice with constant starts/ends/axes and unit steps: dy padded back with zeros. */
const Slice: GradRule = ({ g, node, dy }) => {
  const [x, startsV, endsV, axesV, stepsV] = node.inputs;
  const dims = g.shape(x);
  const rank = dims.length;
  const starts = constInts(g, startsV, 'Slice starts');
  const ends = constInts(g, endsV, 'Slice ends');
  const axes = axesV ? constInts(g, axesV, 'Slice axes') : starts.map((_, i) => i);
  if (stepsV && constInts(g, stepsV, 'Slice steps').some((s) => s !== 1))
    throw new RangeError(`autodiff: Slice with steps ≠ 1 (node ${node.name})`);
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + rank : a0;
    const n = dims[a] as number;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const b = clamp(starts[i]);
    const e = Math.max(clamp(ends[i]), b);
    pads[a] = b;
    pads[a + rank] = n - e;
  });
  return [g.pad(dy, pads)];
};

/** Constant-mode Pad (non-negative pads): dy sliced back to the input's extent. */
const Pad: GradRule = ({ g, node, dy }) => {
  const [x, padsV] = node.inputs;
  if (attrString(node, 'mode', 'constant') !== 'constant')
    throw new RangeError(`autodiff: Pad mode ${attrString(node, 'mode', '')} (node ${node.name})`);
  const pads = constInts(g, padsV, 'Pad pads');
  if (node.inputs[3]) throw new RangeError(`autodiff: Pad with axes (node ${node.name})`);
  const dims = g.shape(x);
  const rank = dims.length;
  const axes: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let a = 0; a < rank; a++) {
    if (pads[a] < 0 || pads[a + rank] < 0) throw new RangeError(`autodiff: negative Pad (node ${node.name})`);
    if (pads[a] === 0 && pads[a + rank] === 0) continue;
    axes.push(a);
    starts.push(pads[a]);
    ends.push(pads[a] + (dims[a] as number));
  }
  return [axes.length ? g.slice(dy, starts, ends, axes) : dy];
};

/**
 * Gather(axis 0) of rows of a table: the rows of dy are scatter-added into a zero table (ScatterND with
 * reduction 'add', so repeated indices accumulate).
 */
const Gather: GradRule = ({ g, node, dy, needs }) => {
  const [table, indices] = node.inputs;
  if (attrInt(node, 'axis', 0) !== 0) throw new RangeError(`autodiff: Gather axis ≠ 0 (node ${node.name})`);
  if (!needs(0)) return [undefined, undefined];
  const idx = g.unsqueeze(indices, [g.shape(indices).length]); // (…, 1)
  const reduction: AttrValue = { type: 'string', value: 'add' };
  const out = g.op('ScatterND', [zerosLike(g, table), idx, dy], { reduction }, g.shape(table));
  return [out, undefined];
};

export const SHAPE_RULES: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Unsqueeze: reshapeBack,
  Squeeze: reshapeBack,
  Flatten: reshapeBack,
  Transpose,
  Concat,
  Slice,
  Pad,
  Gather,
};
