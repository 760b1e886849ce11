/**
 * Adjoints of the composite ops the graph builders tag (GraphBuilder.composite): each is differentiated as one
 * op from its inputs, its output and the internal values it names, instead of node by node.
 */
import type { GraphBuilder } from '../../graph.js';
import type { CompositeRule } from '../types.js';
import { neg } from '../util.js';

const one = (g: GraphBuilder) => g.constFloat([1], []);

/** SiLU y = x · s with s = sigmoid(x): dx = dy · (s + y (1 − s)), from s and y (x itself is not kept). */
const SiLU: CompositeRule = ({ g, composite, dy }) => {
  const s = composite.values.sigmoid;
  const y = composite.output;
  return [g.mul(dy, g.add(g.mul(y, g.sub(one(g), s)), s))];
};

/** x centred per (b, group), (B, G, L), and 1 / √(σ² + ε) per (b, group), (B, G, 1), from x. */
function groupInvStd(
  g: GraphBuilder,
  x: string,
  groups: number,
  eps: number,
  nb: number | string,
  perGroup: number,
): { xc: string; invStd: string } {
  const grouped = g.reshape(x, [0, groups, -1]);
  const xc = g.sub(grouped, g.reduceMean(grouped, [2], true));
  const sumSq = g.op('ReduceSumSquare', [xc], { axes: { type: 'ints', value: [2] } }, [nb, groups, 1]);
  const variance = g.mul(sumSq, g.constFloat([1 / perGroup], []));
  const invStd = g.op(
    'Reciprocal',
    [g.op('Sqrt', [g.add(variance, g.constFloat([eps], []))], {}, [nb, groups, 1])],
    {},
    [nb, groups, 1],
  );
  return { xc, invStd };
}

/**
 * GroupNorm's dx = (γ/σ) dy − m1/σ − x̂ (m2/σ) from its per-(b, group) terms: one BatchNormalization over the
 * B·C rows when the batch is known, else broadcasting ops on the grouped view.
 */
function groupNormDx(
  g: GraphBuilder,
  dy: string,
  xhat: string,
  dims: readonly (number | string)[],
  groups: number,
  { scaleRows, shiftRows, k2 }: { scaleRows: string; shiftRows: string; k2: string },
): string {
  const [nb, c] = dims as [number | string, number];
  const hw = (dims.slice(2) as number[]).reduce((p, d) => p * d, 1);
  const cg = c / groups;
  const rank = dims.length;
  if (typeof nb === 'number') {
    const rows = nb * c;
    const flat = (v: string) =>
      g.reshape(g.op('Expand', [v, g.constInt64([nb, groups, cg])], {}, [nb, groups, cg]), [rows]);
    const zeros = g.constFloat(new Float32Array(rows));
    const ones = g.constFloat(new Float32Array(rows).fill(1));
    const scaled = g.op(
      'BatchNormalization',
      [g.reshape(dy, [1, rows, hw]), flat(scaleRows), flat(shiftRows), zeros, ones],
      { epsilon: { type: 'float', value: 0 } },
      [1, rows, hw],
    );
    const corr = g.reshape(g.op('Expand', [k2, g.constInt64([nb, groups, cg])], {}, [nb, groups, cg]), [
      nb,
      c,
      ...new Array<number>(rank - 2).fill(1),
    ]);
    return g.sub(g.reshape(scaled, dims as number[]), g.mul(xhat, corr));
  } else {
    // A free batch dimension: the same with broadcasting Mul / Sub on the grouped view.
    const dyg = g.reshape(dy, [0, groups, cg, hw]);
    const xg = g.reshape(xhat, [0, groups, cg, hw]);
    const unsq = (v: string) => g.unsqueeze(v, [g.shape(v).length]);
    const t = g.add(g.mul(dyg, unsq(scaleRows)), unsq(shiftRows));
    const r = g.sub(t, g.mul(xg, unsq(k2)));
    return g.reshape(
      r,
      dims.map((d, i) => (i === 0 ? 0 : (d as number))),
    );
  }
}

/**
 * GroupNorm y = γ x̂ + β over G groups of (B, C, H, W), x̂ = (x − μ) / √(σ² + ε) per (b, group), L values a group:
 *   P = Σ_hw dy · x̂ and Q = Σ_hw dy per (b, c); dγ = Σ_b P, dβ = Σ_b Q;
 *   dx = (γ dy − m1 − x̂ m2) / √(σ² + ε), with m1 = Σ_{c ∈ group} γ Q / L and m2 = Σ_{c ∈ group} γ P / L.
 * The two per-channel sums serve both the parameter gradients and the group means, so the backward reads dy three
 * times and x̂ twice (the op-by-op rules of its four nodes made 13 passes over the tensor, this makes 9 with the
 * recomputed σ² from x). γ dy / σ − m1 / σ is one BatchNormalization over the B·C rows.
 */
const GroupNorm: CompositeRule = ({ g, composite, dy, needs }) => {
  const [x, gamma] = composite.inputs;
  const groups = composite.attributes.groups;
  const eps = composite.attributes.epsilon;
  const dims = g.shape(x);
  const [nb, c] = dims as [number | string, number];
  const hw = (dims.slice(2) as number[]).reduce((p, d) => p * d, 1);
  const cg = c / groups;
  const spatial = [...Array(dims.length).keys()].slice(2);

  const { xc, invStd } = groupInvStd(g, x, groups, eps, nb, cg * hw);
  // x̂: the tagged internal value, else (one channel per group) recomputed from the centred x.
  const xhat =
    composite.values.normalized ??
    g.reshape(
      g.mul(xc, invStd),
      dims.map((d, i) => (i === 0 ? 0 : (d as number))),
    );

  const p = g.reduceSum(g.mul(dy, xhat), spatial, false); // (B, C)
  const q = g.reduceSum(dy, spatial, false); // (B, C)
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (needs(1)) out[1] = g.reduceSum(p, [0], false);
  if (needs(2)) out[2] = g.reduceSum(q, [0], false);
  if (!needs(0)) return out;

  // m1, m2 per (b, group), (B, G, 1); then the per-row (b, c) scale and shift as (B, G, C/G) → (B·C).
  const groupMean = (v: string) =>
    g.mul(
      g.reduceSum(g.reshape(g.mul(v, gamma), [0, groups, cg]), [2], true),
      g.constFloat([1 / (cg * hw)], []),
    );
  const m1 = groupMean(q);
  const m2 = groupMean(p);
  const gammaRows = g.reshape(gamma, [1, groups, cg]);
  const scaleRows = g.mul(gammaRows, invStd); // (B, G, C/G): γ / σ
  const shiftRows = neg(g, g.mul(m1, invStd)); // (B, G, 1): −m1 / σ
  const k2 = g.mul(m2, invStd); // (B, G, 1): m2 / σ
  out[0] = groupNormDx(g, dy, xhat, dims, groups, { scaleRows, shiftRows, k2 });
  return out;
};

/**
 * FIR downsample (upfirdn2d down = 2 with the (1, 3, 3, 1) kernel): per axis its adjoint spreads each value over
 * (¼, ¾, ¾, ¼) of the doubled grid, zero outside: ¼ of the FIR upsample, i.e. a bilinear Resize with ¾ on the
 * edge rows and columns.
 */
const FirDownsample: CompositeRule = ({ g, composite, dy }) => {
  const x = composite.inputs[0];
  const [, c, h, w] = g.shape(x) as number[];
  const [, , oh, ow] = g.shape(dy) as number[];
  if (h !== 2 * oh || w !== 2 * ow) {
    // An odd size: the transposed convolution with the same kernel, cropped to x's extent.
    const k1 = [1, 3, 3, 1].map((v) => v / 8);
    const k = new Float32Array(c * 16);
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) k[ch * 16 + i * 4 + j] = k1[i] * k1[j];
    const ints = (value: number[]) => ({ type: 'ints' as const, value });
    return [
      g.op(
        'ConvTranspose',
        [dy, g.constFloat(k, [c, 1, 4, 4])],
        {
          kernel_shape: ints([4, 4]),
          strides: ints([2, 2]),
          pads: ints([1, 1, 1, 1]),
          group: { type: 'int', value: c },
          output_padding: ints([h - (2 * oh - 2 + 4 - 2), w - (2 * ow - 2 + 4 - 2)]),
        },
        g.shape(x),
      ),
    ];
  }
  const up = g.resize(dy, [1, 1, 2, 2], 'linear', 'half_pixel');
  const edge = (i: number, n: number) => (i === 0 || i === n - 1 ? 0.75 : 1);
  const mask = new Float32Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) mask[i * w + j] = 0.25 * edge(i, h) * edge(j, w);
  return [g.mul(up, g.constFloat(mask, [1, 1, h, w]))];
};

/**
 * FIR upsample: per axis out[2i] = ¼x[i−1] + ¾x[i], out[2i+1] = ¾x[i] + ¼x[i+1] (zeros outside), so
 * dx[i] = ¼dy[2i−1] + ¾dy[2i] + ¾dy[2i+1] + ¼dy[2i+2]: twice the FIR downsample per axis, i.e. one depthwise
 * stride-2 4×4 convolution with 4× its kernel.
 */
const FirUpsample: CompositeRule = ({ g, dy }) => {
  const c = g.shape(dy)[1] as number;
  const k1 = [1, 3, 3, 1].map((v) => v / 8);
  const k = new Float32Array(c * 16);
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) k[ch * 16 + i * 4 + j] = 4 * k1[i] * k1[j];
  return [
    g.conv(dy, g.constFloat(k, [c, 1, 4, 4]), undefined, { strides: [2, 2], pads: [1, 1, 1, 1], group: c }),
  ];
};

/**
 * Attention o = v Pᵀ with P = softmax(qᵀk · s), channel-first (B, h, d, HW): dv = dO P; with dO' = s · dO,
 * dS = P ⊙ (dO'ᵀ v − D) where D = Σ_d dO' ⊙ o per query (softmax's Σ_k dP P, from the small tensors);
 * dq = k dSᵀ, dk = q dS. Reads P, q, k, v and o.
 */
const Attention: CompositeRule = ({ g, composite, dy, needs }) => {
  const [q, k, v] = composite.inputs;
  const p = composite.values.probs; // (B, h, HWq, HWk)
  const o = composite.output; // (B, h, d, HWq)
  const t = (x: string) => g.transpose(x, [0, 1, 3, 2]);
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  if (needs(2)) out[2] = g.matmul(dy, p);
  if (needs(0) || needs(1)) {
    const ds = g.mul(dy, g.constFloat([composite.attributes.scale], [])); // (B, h, d, HWq)
    const d = t(g.reduceSum(g.mul(ds, o), [2], true)); // (B, h, HWq, 1)
    const dScores = g.mul(p, g.sub(g.matmul(t(ds), v), d)); // (B, h, HWq, HWk)
    if (needs(0)) out[0] = g.matmul(k, t(dScores));
    if (needs(1)) out[1] = g.matmul(q, dScores);
  }
  return out;
};

export const COMPOSITE_RULES: Readonly<Record<string, CompositeRule>> = {
  SiLU,
  GroupNorm,
  FirDownsample,
  FirUpsample,
  Attention,
};
