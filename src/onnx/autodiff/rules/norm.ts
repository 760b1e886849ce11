/** Gradient rules of the normalisations (InstanceNormalization, inference BatchNormalization) and softmaxes. */
import type { GraphBuilder } from '../../graph.js';
import type { GradRule } from '../types.js';
import { attrFloat, attrInt, constFloats, neg } from '../util.js';

/** A per-channel vector (C) viewed as (C, 1, …) to broadcast over (N, C, …) of the given rank. */
function perChannel(g: GraphBuilder, v: string, rank: number): string {
  const c = g.shape(v)[0] as number;
  return g.reshape(v, [c, ...new Array<number>(rank - 2).fill(1)]);
}

/**
 * InstanceNormalization y = x̂ · γ + β with x̂ = (x − μ) / √(σ² + ε) over the axes ≥ 2:
 * dx = (g − mean(g) − x̂ · mean(g · x̂)) / √(σ² + ε) with g = dy · γ; dγ = Σ dy · x̂; dβ = Σ dy.
 * The statistics are recomputed from x. (GroupNorm, built on this op, has its own adjoint: rules/composite.ts.)
 */
const InstanceNormalization: GradRule = ({ g, node, dy, needs }) => {
  const [x, gamma] = node.inputs;
  const dims = g.shape(x);
  const rank = dims.length;
  const axes = [...Array(rank).keys()].slice(2);
  const n = (dims.slice(2) as number[]).reduce((p, d) => p * d, 1);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const mu = g.reduceMean(x, axes, true);
  const xc = g.sub(x, mu);
  const sumSq = g.op('ReduceSumSquare', [xc], { axes: { type: 'ints', value: axes } }, g.shape(mu));
  const variance = g.mul(sumSq, g.constFloat([1 / n], []));
  const invStd = g.op(
    'Reciprocal',
    [g.op('Sqrt', [g.add(variance, g.constFloat([eps], []))], {}, g.shape(mu))],
    {},
    g.shape(mu),
  );
  const xhat = g.mul(xc, invStd);
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (needs(0)) {
    const gs = g.mul(dy, perChannel(g, gamma, rank));
    const m1 = g.reduceMean(gs, axes, true);
    const m2 = g.reduceMean(g.mul(gs, xhat), axes, true);
    const [nb, c] = dims;
    if (typeof nb === 'number') {
      // (gs − m1) / σ as one BatchNormalization over the N·C rows (1, N·C, L), then − x̂ · m2 / σ.
      const rows = nb * (c as number);
      const row = (v: string) => g.reshape(v, [rows]);
      const zeros = g.constFloat(new Float32Array(rows));
      const ones = g.constFloat(new Float32Array(rows).fill(1));
      const scaled = g.op(
        'BatchNormalization',
        [g.reshape(gs, [1, rows, n]), row(invStd), row(neg(g, g.mul(m1, invStd))), zeros, ones],
        { epsilon: { type: 'float', value: 0 } },
        [1, rows, n],
      );
      out[0] = g.sub(g.reshape(scaled, dims as number[]), g.mul(xhat, g.mul(m2, invStd)));
    } else out[0] = g.mul(g.sub(g.sub(gs, m1), g.mul(xhat, m2)), invStd);
  }
  const batchAndSpatial = [0, ...axes];
  if (needs(1)) out[1] = g.reduceSum(g.mul(dy, xhat), batchAndSpatial, false);
  if (needs(2)) out[2] = g.reduceSum(dy, batchAndSpatial, false);
  return out;
};

/**
 * Inference-mode BatchNormalization y = (x − mean) · k + β with k = γ / √(var + ε) and constant mean and var:
 * dx = dy · k (itself one BatchNormalization), dγ = Σ dy · (x − mean) / √(var + ε), dβ = Σ dy.
 */
const BatchNormalization: GradRule = ({ g, node, dy, needs }) => {
  const [x, gamma, , meanV, varV] = node.inputs;
  if (attrInt(node, 'training_mode', 0) !== 0 || node.outputs.length !== 1)
    throw new RangeError(`autodiff: BatchNormalization in training mode (node ${node.name})`);
  const mean = constFloats(g, meanV);
  const variance = constFloats(g, varV);
  if (!mean || !variance)
    throw new RangeError(`autodiff: BatchNormalization needs constant mean and var (node ${node.name})`);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  const c = mean.length;
  const rank = g.shape(x).length;
  const inv = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const plain = mean.every((m) => m === 0) && inv.every((v) => v === 1);
  const out: (string | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  const reduceAxes = [0, ...[...Array(rank).keys()].slice(2)];
  if (needs(0)) {
    const k = plain ? gamma : g.mul(gamma, g.constFloat(inv));
    const zeros = g.constFloat(new Float32Array(c));
    const ones = g.constFloat(new Float32Array(c).fill(1));
    out[0] = g.op(
      'BatchNormalization',
      [dy, k, zeros, zeros, ones],
      { epsilon: { type: 'float', value: 0 } },
      g.shape(x),
    );
  }
  if (needs(1)) {
    const xhat = plain
      ? x
      : g.mul(g.sub(x, perChannel(g, g.constFloat(mean), rank)), perChannel(g, g.constFloat(inv), rank));
    out[1] = g.reduceSum(g.mul(dy, xhat), reduceAxes, false);
  }
  if (needs(2)) out[2] = g.reduceSum(dy, reduceAxes, false);
  return out;
};

/** Softmax along one axis: dx = y · (dy − Σ dy · y), from the output. */
const Softmax: GradRule = ({ g, node, dy }) => {
  const y = node.outputs[0];
  const axis = attrInt(node, 'axis', -1);
  return [g.mul(y, g.sub(dy, g.reduceSum(g.mul(dy, y), [axis], true)))];
};

/** LogSoftmax along one axis: dx = dy − exp(y) · Σ dy, from the output. */
const LogSoftmax: GradRule = ({ g, node, dy }) => {
  const y = node.outputs[0];
  const axis = attrInt(node, 'axis', -1);
  const p = g.op('Exp', [y], {}, g.shape(y));
  return [g.sub(dy, g.mul(p, g.reduceSum(dy, [axis], true)))];
};

export const NORM_RULES: Record<string, GradRule> = {
  InstanceNormalization,
  BatchNormalization,
  Softmax,
  LogSoftmax,
};
