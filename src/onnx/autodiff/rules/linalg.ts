/** Gradient rules of Conv, MatMul and Gemm. */
import type { Dim, GraphBuilder } from '../../graph.js';
import type { AttrValue } from '../../proto.js';
import type { GradRule } from '../types.js';
import { attrFloat, attrInt, attrInts, scale, unbroadcast } from '../util.js';

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

/** Slice with steps (GraphBuilder.slice has unit steps only); `dims` is the known output shape. */
function sliceSteps(
  g: GraphBuilder,
  x: string,
  starts: number[],
  ends: number[],
  axes: number[],
  steps: number[],
  dims: Dim[],
): string {
  const inputs = [x, g.constInt64(starts), g.constInt64(ends), g.constInt64(axes), g.constInt64(steps)];
  return g.op('Slice', inputs, {}, dims, g.info(x).dtype);
}

/**
 * dx of a convolution. Stride 1 (group 1): a plain Conv of dy with the flipped, transposed kernel, which
 * onnxruntime runs much faster than ConvTranspose (and which the blocked path runs on the NCHWc kernels).
 * Otherwise ConvTranspose. (The FIR downsample, a depthwise stride-2 convolution, has its own adjoint:
 * rules/composite.ts.)
 */
function convInputGrad(
  g: GraphBuilder,
  dy: string,
  w: string,
  xDims: Dim[],
  o: { strides: number[]; pads: number[]; dil: number[]; group: number },
): string {
  const [m, cg, kh, kw] = g.shape(w) as number[];
  const [, , oh, ow] = g.shape(dy) as number[];
  const [h, wd] = [xDims[2] as number, xDims[3] as number];
  const unit = (a: number[]) => a.every((v) => v === 1);
  if (o.group === 1 && unit(o.strides) && unit(o.dil)) {
    const pads = [kh - 1 - o.pads[0], kw - 1 - o.pads[1], kh - 1 - o.pads[2], kw - 1 - o.pads[3]];
    if (pads.every((p) => p >= 0)) {
      const flipped = sliceSteps(g, w, [-1, -1], [-kh - 1, -kw - 1], [2, 3], [-1, -1], [m, cg, kh, kw]);
      return g.conv(dy, g.transpose(flipped, [1, 0, 2, 3]), undefined, { pads });
    }
  }
  const full = (i: number, size: number, k: number) =>
    (i === 0 ? oh - 1 : ow - 1) * o.strides[i] + (k - 1) * o.dil[i] + 1 - o.pads[i] - o.pads[i + 2] - size;
  return g.op(
    'ConvTranspose',
    [dy, w],
    {
      kernel_shape: ints([kh, kw]),
      strides: ints(o.strides),
      pads: ints(o.pads),
      dilations: ints(o.dil),
      group: int(o.group),
      output_padding: ints([-full(0, h, kh), -full(1, wd, kw)]),
    },
    xDims,
  );
}

/**
 * dw of a group-1 convolution: for each kernel tap (i, j), dw[:, :, i, j] = dyᵀ · x̃ with x̃ the (strided)
 * shifted view of the padded input. With a static batch, x and dy are transposed once to channel-first
 * (C, N·H·W) so that each tap is one MatMul contracting over N·oh·ow, with no per-tap batch sum; with a free
 * batch dim each tap is a batched MatMul summed over N. A 1×1 convolution needs no views. The views are copies
 * (memory-bound): at stride 1, where the output has fewer channels than the input (a decoder conv after a skip
 * Concat, conv_out), the taps shift views of the zero-padded dy across the unsliced x instead, which copies
 * M·H·W values per tap instead of C·oh·ow.
 *
 * Formulations measured against each other on this project's shapes (AMD EPYC, AVX2, NCHWc block 8; ms of the
 * dw graph alone; the shared machine moves single numbers by ±10–30 %, so only consistent gaps count):
 *
 *   shape class (C→M, H×W, 3×3 s1, batch 64)  taps   taps batched over N   im2col + one GEMM   Conv of xᵀ by dyᵀ: blocked (standard)
 *   one thread, CPU ms:
 *   32→32, 28×28                               43–47  44                    61 (54 swapped)     47–48 (82)
 *   64→64, 14×14                               33–39  38                    39–44               34–40 (66)
 *   128→64, 14×14                              61–69  74                    87–88               63–73 (131)
 *   64→64, 7×7                                 10–11  11                    13                  8–9 (17)
 *   96→32, 28×28 (decoder, dy shifted)         120    –                     161–181             –
 *   1×1 64→64, 14×14                           5      –                     –                   12 (15)
 *   two threads, wall ms (quiet machine):
 *   32→32, 28×28                               45–47  34–35                 –                   36–38
 *   64→32, 28×28 (dy shifted)                  60–61  64–67                 –                   54–56
 *   64→64, 28×28                               116    87–90                 –                   98–115
 *   64→64, 14×14                               21–34  22–28                 –                   20–23
 *   128→64, 14×14                              48     54                    –                   39
 *   64→64, 7×7                                 10–12  8–10                  –                   5–6
 *   128→64, 7×7                                15     19                    –                   10
 *
 * One thread ties them (the MatMuls run at ~27 GFLOP/s a thread, the blocked convolution at ~30); two threads
 * favour the blocked convolution, whose contraction runs in a threaded kernel where the taps run 8 single-threaded
 * Slice copies and two Transposes a convolution. So a graph that will be lowered to the NCHWc kernels takes it
 * (convWeightGradBlocked; on the bundled model's step 1 %, on the 1×32×32 preset 4–6 % faster than the taps), and
 * the standard path keeps the taps (its own Conv of xᵀ by dyᵀ runs 2× slower). A 1×1 convolution is one MatMul.
 */
function convWeightGrad(
  g: GraphBuilder,
  x: string,
  dy: string,
  wDims: number[],
  o: { strides: number[]; pads: number[]; dil: number[] },
): string {
  const [m, c, kh, kw] = wDims;
  const [n, , h, w] = g.shape(x);
  const [, , oh, ow] = g.shape(dy) as number[];
  const hw = oh * ow;
  const staticBatch = typeof n === 'number';
  // Channel-first layout (static batch): xc (C, N, H, W), rows (M, N·oh·ow); else (N, C, H, W), (N, M, HW).
  const xc = staticBatch ? g.transpose(x, [1, 0, 2, 3]) : x;
  const rows = staticBatch
    ? g.reshape(g.transpose(dy, [1, 0, 2, 3]), [m, n * hw])
    : g.reshape(dy, [0, m, hw]);
  const tap = (view: string): string => {
    // (M, C), or (N, M, C) summed over N
    const cols = staticBatch ? g.reshape(view, [c, n * hw]) : g.reshape(view, [0, c, hw]);
    const p = g.matmul(rows, transposeLast(g, cols));
    return staticBatch ? p : g.reduceSum(p, [0], false);
  };
  const pointwise = kh === 1 && kw === 1 && o.strides.every((s) => s === 1) && o.pads.every((p) => p === 0);
  if (pointwise) return g.reshape(tap(xc), [m, c, 1, 1]);
  const unit = (a: number[]) => a.every((v) => v === 1);
  const padsFit = o.pads[0] < kh && o.pads[2] < kh && o.pads[1] < kw && o.pads[3] < kw;
  const fewerDyValues = typeof h === 'number' && typeof w === 'number' && m * h * w < c * hw;
  if (staticBatch && unit(o.strides) && unit(o.dil) && padsFit && fewerDyValues)
    return convWeightGradShiftingDy(g, xc, dy, [m, c, kh, kw], o.pads);
  const padded = o.pads.some((p) => p !== 0)
    ? g.pad(xc, [0, 0, o.pads[0], o.pads[1], 0, 0, o.pads[2], o.pads[3]])
    : xc;
  const viewDims = staticBatch ? [c, n, oh, ow] : [n, c, oh, ow];
  const taps: string[] = [];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const s = [i * o.dil[0], j * o.dil[1]];
      const e = [s[0] + (oh - 1) * o.strides[0] + 1, s[1] + (ow - 1) * o.strides[1] + 1];
      // The tap that lines up with the unpadded input (the centre of a 'same' convolution) needs no copy.
      const aligned =
        s[0] === o.pads[0] && s[1] === o.pads[1] && o.strides.every((v) => v === 1) && oh === h && ow === w;
      const view = aligned ? xc : sliceSteps(g, padded, s, e, [2, 3], o.strides, viewDims);
      taps.push(g.unsqueeze(tap(view), [2])); // (M, C, 1)
    }
  return g.reshape(g.concat(taps, 2), [m, c, kh, kw]); // (M, C, kh·kw) → (M, C, kh, kw)
}

/**
 * dw of a stride-1, group-1 convolution with a static batch, shifting dy instead of x:
 * dw[m, c, i, j] = Σ_{n,a,b} x[c, n, a, b] · dy[m, n, a − i + p_top, b − j + p_left] (zero outside dy), so with
 * dy zero-padded by k − 1 − pad on each side, tap (i, j) is the H×W view of it at (k_h − 1 − i, k_w − 1 − j)
 * against x as it is. `xc` is x channel-first, (C, N, H, W).
 */
function convWeightGradShiftingDy(
  g: GraphBuilder,
  xc: string,
  dy: string,
  [m, c, kh, kw]: number[],
  pads: number[],
): string {
  const [, n, h, w] = g.shape(xc) as number[];
  const [, , oh, ow] = g.shape(dy) as number[];
  const cols = transposeLast(g, g.reshape(xc, [c, n * h * w])); // (N·H·W, C)
  const dyc = g.transpose(dy, [1, 0, 2, 3]); // (M, N, oh, ow)
  const [top, left, bottom, right] = [kh - 1 - pads[0], kw - 1 - pads[1], kh - 1 - pads[2], kw - 1 - pads[3]];
  const padded = g.pad(dyc, [0, 0, top, left, 0, 0, bottom, right]); // (M, N, H + kh − 1, W + kw − 1)
  const taps: string[] = [];
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const [s0, s1] = [kh - 1 - i, kw - 1 - j];
      // The tap that lines up with dy itself (the centre of a 'same' convolution) needs no copy.
      const aligned = s0 === top && s1 === left && oh === h && ow === w;
      const view = aligned ? dyc : g.slice(padded, [s0, s1], [s0 + h, s1 + w], [2, 3]); // (M, N, H, W)
      taps.push(g.unsqueeze(g.matmul(g.reshape(view, [m, n * h * w]), cols), [2])); // (M, C, 1)
    }
  return g.reshape(g.concat(taps, 2), [m, c, kh, kw]);
}

/** Conv (NCHW): dx (convInputGrad), dw (convWeightGrad, group 1), db = Σ dy over N, H, W. */
const Conv: GradRule = ({ g, node, dy, needs, options }) => {
  const [x, w] = node.inputs;
  const o = {
    strides: attrInts(node, 'strides', [1, 1]),
    pads: attrInts(node, 'pads', [0, 0, 0, 0]),
    dil: attrInts(node, 'dilations', [1, 1]),
    group: attrInt(node, 'group', 1),
  };
  const out: (string | undefined)[] = [undefined, undefined, undefined];
  // db and dx first: then dw's Reshape of dy is dy's last reader and onnxruntime reshapes in place.
  if (needs(2)) out[2] = g.reduceSum(dy, [0, 2, 3], false);
  // Named under InputGrad / WeightGrad, so that a profile tells the two apart.
  if (needs(0)) out[0] = g.scoped('InputGrad', () => convInputGrad(g, dy, w, g.shape(x), o));
  if (needs(1)) {
    if (o.group !== 1)
      throw new RangeError(`autodiff: Conv weight gradient with group ${o.group} (node ${node.name})`);
    const wDims = g.shape(w) as number[];
    out[1] = g.scoped('WeightGrad', () =>
      batchAsChannels(g, x, wDims, o, options.nchwcBlock)
        ? convWeightGradBlocked(g, x, dy, o.pads)
        : convWeightGrad(g, x, dy, wDims, o),
    );
  }
  return out;
};

/**
 * Whether dw runs as one convolution with the batch as channels (convWeightGradBlocked): only for a graph that
 * will be lowered to the NCHWc kernels (on the standard kernels that convolution runs ~2× slower than the taps),
 * for a k > 1 stride-1 convolution, with a static batch the blocked kernels take as channels.
 */
function batchAsChannels(
  g: GraphBuilder,
  x: string,
  [, , kh, kw]: number[],
  o: { strides: number[]; dil: number[] },
  block: number | null | undefined,
): boolean {
  const n = g.shape(x)[0];
  if (!block || typeof n !== 'number' || !(n % block === 0 || n < block)) return false;
  return kh * kw > 1 && o.strides.every((v) => v === 1) && o.dil.every((v) => v === 1);
}

/**
 * dw of a stride-1 convolution as one convolution, for the NCHWc kernels: x channel-first (C, N, H, W) is a batch
 * of C images with N channels, dy channel-first (M, N, oh, ow) the kernel, so
 * out[c, m, i, j] = Σ_{n,a,b} x[n, c, a + i − p, b + j − p] · dy[n, m, a, b] = dw[m, c, i, j] (pads as the
 * forward's). The contraction runs in the threaded blocked kernel instead of per-tap copies and MatMuls.
 */
function convWeightGradBlocked(g: GraphBuilder, x: string, dy: string, pads: number[]): string {
  const xc = g.transpose(x, [1, 0, 2, 3]); // (C, N, H, W)
  const dyc = g.transpose(dy, [1, 0, 2, 3]); // (M, N, oh, ow)
  return g.transpose(g.conv(xc, dyc, undefined, { pads }), [1, 0, 2, 3]); // (C, M, kh, kw) → (M, C, kh, kw)
}

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
