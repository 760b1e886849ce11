/** Gradient rules of the reductions (ReduceSum, ReduceMean, ReduceSumSquare): dy broadcast back over the reduced axes. */
import type { GraphBuilder, GraphNode } from '../../graph.js';
import type { GradRule } from '../types.js';
import { attrInt, attrInts, constInts, reshapeTo, scale } from '../util.js';

/** The reduced axes (normalised), from the axes input (ReduceSum, opset 13) or attribute (the others, opset 17). */
function reducedAxes(g: GraphBuilder, node: GraphNode): number[] {
  const rank = g.shape(node.inputs[0]).length;
  let axes: number[];
  if (node.opType === 'ReduceSum')
    axes = node.inputs[1] ? constInts(g, node.inputs[1], 'ReduceSum axes') : [];
  else axes = attrInts(node, 'axes', []);
  if (axes.length === 0) {
    if (attrInt(node, 'noop_with_empty_axes', 0) === 1) return [];
    return [...Array(rank).keys()];
  }
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/** dy (with the reduced axes kept as 1) broadcast to x's shape, and the number of elements each output summed. */
function expandBack(g: GraphBuilder, node: GraphNode, dy: string): { d: string; count: number } {
  const x = node.inputs[0];
  const dims = g.shape(x);
  const axes = reducedAxes(g, node);
  const keep = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const dk = reshapeTo(g, dy, keep);
  // Expand broadcasts both ways, so a free (named) dim can be given as 1.
  const target = dims.map((d) => (typeof d === 'number' ? d : 1));
  const d = g.op('Expand', [dk, g.constInt64(target)], {}, dims);
  const count = axes.reduce((p, a) => p * (dims[a] as number), 1);
  return { d, count };
}

const ReduceSum: GradRule = ({ g, node, dy }) => [expandBack(g, node, dy).d, undefined];

const ReduceMean: GradRule = ({ g, node, dy }) => {
  const { d, count } = expandBack(g, node, dy);
  return [scale(g, d, 1 / count)];
};

/** d Σx² = 2 x dy. */
const ReduceSumSquare: GradRule = ({ g, node, dy }) => [
  g.mul(expandBack(g, node, dy).d, g.mul(node.inputs[0], g.constFloat([2], []))),
];

export const REDUCE_RULES: Record<string, GradRule> = { ReduceSum, ReduceMean, ReduceSumSquare };
