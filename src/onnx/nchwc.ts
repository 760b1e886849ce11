/**
 * Blocked-layout (NCHWc) convolutions for graphs whose convolution weights are computed or fed at run time
 * (training steps, gradient graphs): onnxruntime's CPU provider rewrites a Conv into its fast NCHWc kernels only
 * when the weight is a constant initializer, and otherwise runs im2col + SGEMM. `lowerConvsToNchwc` does the
 * rewrite inside the graph instead: the weight is reordered by graph nodes (Reshape → Transpose → Reshape, a few
 * kB per convolution), the input by `ReorderInput`, and the convolution runs as onnxruntime's internal
 * `com.microsoft.nchwc` Conv, followed by `ReorderOutput` back to NCHW.
 *
 * These are onnxruntime-internal operators, present in onnxruntime-node's CPU provider on x86-64 and arm64 (the
 * block size is 16 with AVX-512, 8 with AVX2 or NEON) and absent from onnxruntime-web: callers probe the block
 * size when they make a session (`nchwcBlockSize` in session.ts) and keep the standard-op graph where the probe
 * fails. The rewrite runs after autodiff, so the gradient rules only ever see standard ops; the sums inside a
 * convolution run in a different order than im2col + SGEMM, so the two paths differ by float32 rounding.
 */
import type { GraphBuilder, GraphNode } from './graph.js';
import type { AttrValue } from './proto.js';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/** Which convolution kernels a gradient graph uses: onnxruntime's standard ops, or the blocked NCHWc kernels. */
export type ConvPath = 'standard' | 'blocked';

export interface NchwcLowering {
  /** Convolutions rewritten to the blocked kernels. */
  lowered: number;
  /** Convolutions left as standard Conv (constant weights, which onnxruntime blocks itself, or unsupported shapes). */
  kept: number;
}

/** The weight layouts of MLAS: OIHWBiBo (blocked input channels) and OIHWBo (NCHW input, depthwise). */
type FilterFormat = 'BiBo' | 'Bo';

const int = (value: number): AttrValue => ({ type: 'int', value });

/**
 * Rewrites, in place, every 2-D Conv of `g` whose weight is not a constant into the NCHWc kernels of block size
 * `block`. Supported: group 1 with input channels a multiple of the block or fewer than the block (the NCHW-input
 * kernel, e.g. a first convolution on 1–3 image channels), and depthwise convolutions whose channels are a multiple
 * of the block; any number of output channels (the weight and bias are zero-padded to the block). Other
 * convolutions stay standard. A value that several blocked convolutions read is reordered once, and a blocked
 * convolution's output feeds the next blocked convolution directly when its channels fill whole blocks.
 */
export function lowerConvsToNchwc(g: GraphBuilder, block: number): NchwcLowering {
  if (!Number.isInteger(block) || block < 4 || block % 4 !== 0)
    throw new RangeError(`lowerConvsToNchwc: block size must be a multiple of 4, got ${block}`);
  const old = g.nodes.splice(0, g.nodes.length);
  const producer = new Map<string, GraphNode>();
  for (const n of old) for (const o of n.outputs) producer.set(o, n);
  const constant = new Set<string>(g.initializers.map((t) => t.name));
  for (const n of old)
    if (n.inputs.every((i) => i === '' || constant.has(i))) for (const o of n.outputs) constant.add(o);

  const blockedOf = new Map<string, string>(); // NCHW value → its NCHWc twin
  const weights = new Map<string, string>(); // `${w}|${format}` → reordered weight
  const stats: NchwcLowering = { lowered: 0, kept: 0 };
  const roundUp = (c: number) => Math.ceil(c / block) * block;

  for (const n of old) {
    const plan = n.opType === 'Conv' && !n.domain ? planConv(g, n, block, constant) : undefined;
    if (!plan) {
      if (n.opType === 'Conv' && !n.domain) stats.kept++;
      g.nodes.push(n);
      continue;
    }
    const [x, w, b] = n.inputs;
    const y = n.outputs[0];
    const [nb, m, oh, ow] = g.shape(y);
    const mp = roundUp(m as number);
    const xr = plan.reorderInput
      ? cached(blockedOf, x, () => g.domainOp(NCHWC_DOMAIN, 'ReorderInput', [x], {}, g.shape(x)))
      : x;
    const wr = cached(weights, `${w}|${plan.format}`, () =>
      blockedWeight(g, w, plan.format, block, producer.get(w)),
    );
    const inputs = [xr, wr];
    if (b !== undefined && b !== '') inputs.push(mp === m ? b : g.pad(b, [0, mp - (m as number)]));
    const yr = g.domainOp(NCHWC_DOMAIN, 'Conv', inputs, { ...n.attributes }, [nb, mp, oh, ow]);
    g.nodes[g.nodes.length - 1].name = n.name; // profiles keep the module path
    g.domainOp(NCHWC_DOMAIN, 'ReorderOutput', [yr], { channels: int(m as number) }, [nb, m, oh, ow]);
    const reorder = g.nodes[g.nodes.length - 1];
    reorder.name = `${n.name}/ReorderOutput`;
    reorder.outputs = [y];
    if (mp === m) blockedOf.set(y, yr);
    stats.lowered++;
  }

  dropUnread(g);
  return stats;
}

/** `cache`'s value for `key`, made (once) by `make`. */
function cached(cache: Map<string, string>, key: string, make: () => string): string {
  let r = cache.get(key);
  if (r === undefined) {
    r = make();
    cache.set(key, r);
  }
  return r;
}

/**
 * `w` (M×C/g×kh×kw) in MLAS's blocked `format`, its output channels zero-padded to whole blocks. `p` is the node
 * that produces `w`, if any: a transposed activation is blocked from its source.
 */
function blockedWeight(
  g: GraphBuilder,
  w: string,
  format: FilterFormat,
  block: number,
  p: GraphNode | undefined,
): string {
  const roundUp = (c: number) => Math.ceil(c / block) * block;
  const [m, cg, kh, kw] = g.shape(w) as number[];
  const mp = roundUp(m);
  const padded = () => (mp === m ? w : g.pad(w, [0, 0, 0, 0, mp - m, 0, 0, 0]));
  let r: string;
  const perm = p?.attributes.perm;
  if (
    format === 'BiBo' &&
    p?.opType === 'Transpose' &&
    !p.domain &&
    perm?.type === 'ints' &&
    perm.value.join() === '1,0,2,3' &&
    m % 4 === 0
  ) {
    // W is a transposed activation (a weight gradient's dyᵀ, as large as an activation): block its source's
    // channels with the threaded ReorderInput, then move 8- or 16-float runs, instead of transposing float by
    // float. R[c][mb][h][w][bo] = src[c][mb·B + bo][h][w] = W[mb·B + bo][c][h][w].
    const blocked = g.domainOp(NCHWC_DOMAIN, 'ReorderInput', [p.inputs[0]], {}, [cg, mp, kh, kw]);
    const split = g.reshape(blocked, [cg / block, block, mp / block, kh, kw, block]); // cb, bi, mb, h, w, bo
    r = g.reshape(g.transpose(split, [2, 0, 3, 4, 1, 5]), [mp, cg, kh, kw]);
  } else if (format === 'BiBo') {
    // D[mb][cb][h][w][bi][bo] = W[mb·B + bo][cb·B + bi][h][w]
    const split = g.reshape(padded(), [mp / block, block, cg / block, block, kh, kw]);
    r = g.reshape(g.transpose(split, [0, 2, 4, 5, 3, 1]), [mp, cg, kh, kw]);
  } else {
    // D[mb][c][h][w][bo] = W[mb·B + bo][c][h][w]
    const split = g.reshape(padded(), [mp / block, block, cg, kh, kw]);
    r = g.reshape(g.transpose(split, [0, 2, 3, 4, 1]), [mp, cg, kh, kw]);
  }
  return r;
}

/**
 * Drops what nothing reads any more: ReorderOutputs whose every consumer took the blocked twin, transposes whose
 * only reader was a weight reordered from their source (onnxruntime would still run them).
 */
function dropUnread(g: GraphBuilder): void {
  const read = new Map<string, number>();
  for (const o of g.outputs) read.set(o.name, 1);
  for (const n of g.nodes) for (const i of n.inputs) read.set(i, (read.get(i) ?? 0) + 1);
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (n.outputs.some((o) => (read.get(o) ?? 0) > 0)) continue;
    g.nodes.splice(k, 1);
    for (const i of n.inputs) read.set(i, (read.get(i) ?? 0) - 1);
  }
}

/** How a Conv node runs blocked, or undefined when it stays standard. */
function planConv(
  g: GraphBuilder,
  n: GraphNode,
  block: number,
  constant: ReadonlySet<string>,
): { format: FilterFormat; reorderInput: boolean } | undefined {
  const [x, w] = n.inputs;
  // Constant weights: onnxruntime's own NCHWc transformer handles them (and pre-packs them once).
  if (constant.has(w)) return undefined;
  const xd = g.shape(x);
  const wd = g.shape(w);
  if (xd.length !== 4 || wd.length !== 4 || !wd.every((d) => typeof d === 'number')) return undefined;
  const auto = n.attributes.auto_pad;
  if (auto && auto.type === 'string' && auto.value !== 'NOTSET') return undefined;
  const group = n.attributes.group?.type === 'int' ? n.attributes.group.value : 1;
  const [m, cg] = wd as number[];
  const c = xd[1] as number;
  if (group === 1) {
    if (c % block === 0) return { format: 'BiBo', reorderInput: true };
    if (c < block) return { format: 'Bo', reorderInput: false };
    return undefined;
  }
  if (group === c && cg === 1 && m === c && c % block === 0) return { format: 'Bo', reorderInput: true };
  return undefined;
}
