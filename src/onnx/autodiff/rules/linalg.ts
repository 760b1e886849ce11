/** Gradient rules of Conv, MatMul and Gemm. */
import type { Dim, GraphBuilder } from '../../graph.js';
import type { AttrValue } from '../../proto.js';
import type { GradRule } from '../types.js';
import { attrFloat, attrInt, attrInts, reduceSum, scale, unbroadcast } from '../util.js';

const ints = (value: number[]): AttrValue => ({ type: 'ints', value });
const int = (value: number): AttrValue => ({ type: 'int', value });

/** Swaps the last two axes. */
function transposeLast(g: GraphBuilder, x: string): string {
  const r = g.shape(x).length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return g.transpose(x, perm);
}

/** Gemm without bias: op(a) · op(b), with op = transpose where the flag is set. */
function gemm(g: GraphBuilder, a: string, b: string, transA: boolean, transB: boolean, alpha = 1): string {
  const [ra, ca] = g.shape(a);
  const [rb, cb] = g.shape(b);
  const n = transA ? ca : ra;
  const m = transB ? rb : cb;
  const attributes: Record<string, AttrValue> = { transA: int(transA ? 1 : 0), transB: int(transB ? 1 : 0) };
  if (alpha !== 1) attributes.alpha = { type: 'float', value: alpha };
  return g.op('Gemm', [a, b], attributes, [n, m]);
}

/**
 * Conv (NCHW). dx: ConvTranspose of dy with the same weights. dw: for a 1×1 convolution a batched MatMul
 * dy · xᵀ summed over the batch; otherwise a convolution of xᵀ (C, N, H, W) with dyᵀ (M, N, oh, ow) as the
 * kernel (strides and dilations swap roles). db: dy summed over N, H, W.
 */
const Conv: GradRule = ({ g, node, dy, needs }) => {
  const [x, w] = node.inputs;
  const [n, c, h, wd] = g.shape(x);
  const [m, cg, kh, kw] = g.shape(w) as number[];
  const strides = attrInts(node, 'strides', [1, 1]);
  const pads = attrInts(node, 'pads', [0, 0, 0, 0]);
  const dil = attrInts(node, 'dilations', [1, 1]);
  const group = attrInt(node, 'group', 1);
  const [, , oh, ow] = g.shape(dy) as number[];
  const out: (string | undefined)[] = [undefined, undefined, undefined];

  if (needs(0)) {
    const full = (i: number, size: number, k: number) =>
      (i === 0 ? oh - 1 : ow - 1) * strides[i] + (k - 1) * dil[i] + 1 - pads[i] - pads[i + 2] - size;
    const outPad = [-full(0, h as number, kh), -full(1, wd as number, kw)];
    out[0] = g.op(
      'ConvTranspose',
      [dy, w],
      {
        kernel_shape: ints([kh, kw]),
        strides: ints(strides),
        pads: ints(pads),
        dilations: ints(dil),
        group: int(group),
        output_padding: ints(outPad),
      },
      [n, c, h, wd],
    );
  }

  if (needs(1)) {
    if (group !== 1)
      throw new RangeError(`autodiff: Conv weight gradient with group ${group} (node ${node.name})`);
    const pointwise = kh === 1 && kw === 1 && strides.every((s) => s === 1) && pads.every((p) => p === 0);
    if (pointwise) {
      const hw = oh * ow;
      const dy3 = g.reshape(dy, [0, m, hw]); // (N, M, HW)
      const x3 = g.reshape(x, [0, c as number, hw]); // (N, C, HW)
      const dw = reduceSum(g, g.matmul(dy3, transposeLast(g, x3)), [0], false); // (M, C)
      out[1] = g.reshape(dw, [m, cg, 1, 1]);
    } else {
      const xT = g.transpose(x, [1, 0, 2, 3]); // (C, N, H, W)
      const dyT = g.transpose(dy, [1, 0, 2, 3]); // (M, N, oh, ow)
      let dw = g.conv(xT, dyT, undefined, { strides: dil, dilations: strides, pads }); // (C, M, ≥kh, ≥kw)
      const [, , kh2, kw2] = g.shape(dw) as number[];
      if (kh2 !== kh || kw2 !== kw) dw = g.slice(dw, [0, 0], [kh, kw], [2, 3]);
      out[1] = g.transpose(dw, [1, 0, 2, 3]);
    }
  }

  if (needs(2)) out[2] = reduceSum(g, dy, [0, 2, 3], false);
  return out;
};

/** numpy matmul: da = dy · bᵀ, db = aᵀ · dy, each summed over broadcast batch axes. */
const MatMul: GradRule = ({ g, node, dy, needs }) => {
  const [a, b] = node.inputs;
  return [
    needs(0) ? unbroadcast(g, g.matmul(dy, transposeLast(g, b)), g.shape(a)) : undefined,
    needs(1) ? unbroadcast(g, g.matmul(transposeLast(g, a), dy), g.shape(b)) : undefined,
  ];
};

/** Gemm y = α op(A) op(B) + β C. */
const Gemm: GradRule = ({ g, node, dy, needs }) => {
  const [a, b, c] = node.inputs;
  const tA = attrInt(node, 'transA', 0) === 1;
  const tB = attrInt(node, 'transB', 0) === 1;
  const alpha = attrFloat(node, 'alpha', 1);
  const beta = attrFloat(node, 'beta', 1);
  let da: string | undefined;
  let db: string | undefined;
  if (needs(0)) da = tA ? gemm(g, b, dy, tB, true, alpha) : gemm(g, dy, b, false, !tB, alpha);
  if (needs(1)) db = tB ? gemm(g, dy, a, true, tA, alpha) : gemm(g, a, dy, !tA, false, alpha);
  const dc =
    c !== undefined && needs(2) ? scale(g, unbroadcast(g, dy, g.shape(c) as Dim[]), beta) : undefined;
  return [da, db, dc];
};

export const LINALG_RULES: Record<string, GradRule> = { Conv, MatMul, Gemm };
