/** Gradient rules of the spatial resampling ops: Resize (×2 nearest and bilinear), AveragePool, MaxPool. */
import type { GraphBuilder } from '../../graph.js';
import type { AttrValue } from '../../proto.js';
import type { GradRule } from '../types.js';
import { attrInt, attrInts, attrString, constFloats, scale } from '../util.js';

const ints = (value: number[]): AttrValue => ({ type: 'ints', value });

/** Integer spatial scales (sH, sW) of a Resize on NCHW with 1 on N and C, or undefined. */
function spatialScales(g: GraphBuilder, scalesV: string | undefined): [number, number] | undefined {
  const s = scalesV ? constFloats(g, scalesV) : undefined;
  if (s?.length !== 4 || s[0] !== 1 || s[1] !== 1) return undefined;
  if (!Number.isInteger(s[2]) || !Number.isInteger(s[3])) return undefined;
  return [s[2], s[3]];
}

/** Sum of each (kh, kw) block, as AveragePool × kh·kw; zero-padded where the pool dropped a remainder. */
function blockSum(g: GraphBuilder, dy: string, k: [number, number], dims: number[]): string {
  let s = scale(g, g.averagePool(dy, k, k), k[0] * k[1]);
  const [, , h, w] = g.shape(s) as number[];
  if (h !== dims[2] || w !== dims[3]) s = g.pad(s, [0, 0, 0, 0, 0, 0, dims[2] - h, dims[3] - w]);
  return s;
}

/** Nearest ×s upsampling of dy to the input's extent (the adjoint of a non-overlapping pool's selection). */
function spread(g: GraphBuilder, v: string, k: [number, number], dims: number[]): string {
  let s = g.resize(v, [1, 1, k[0], k[1]], 'nearest', 'asymmetric');
  const [, , h, w] = g.shape(s) as number[];
  if (h !== dims[2] || w !== dims[3]) s = g.pad(s, [0, 0, 0, 0, 0, 0, dims[2] - h, dims[3] - w]);
  return s;
}

/**
 * Resize ×s nearest (asymmetric, floor): each input pixel gets the sum of its s×s block. Resize ×2 linear
 * (half_pixel): per axis out[2i] = ¼x[i−1] + ¾x[i], out[2i+1] = ¾x[i] + ¼x[i+1] with edge clamping, so
 * dx[i] = ¼dy[2i−1] + ¾dy[2i] + ¾dy[2i+1] + ¼dy[2i+2] on the edge-padded dy: a depthwise stride-2 4×4
 * convolution with the kernel (¼, ¾, ¾, ¼)⊗(¼, ¾, ¾, ¼).
 */
const Resize: GradRule = ({ g, node, dy }) => {
  const [x, roi, scalesV, sizes] = node.inputs;
  const dims = g.shape(x) as number[];
  const k = spatialScales(g, scalesV);
  const mode = attrString(node, 'mode', 'nearest');
  const ct = attrString(node, 'coordinate_transformation_mode', 'half_pixel');
  const unsupported = () =>
    new RangeError(`autodiff: Resize ${mode}/${ct} with these scales (node ${node.name})`);
  if ((roi && roi !== '') || (sizes && sizes !== '') || !k) throw unsupported();
  if (mode === 'nearest') {
    if (ct !== 'asymmetric' || attrString(node, 'nearest_mode', 'round_prefer_floor') !== 'floor')
      throw unsupported();
    return [blockSum(g, dy, k, dims)];
  }
  if (mode === 'linear' && ct === 'half_pixel' && k[0] === 2 && k[1] === 2) {
    const c = dims[1];
    const k1 = [0.25, 0.75, 0.75, 0.25];
    const w = new Float32Array(c * 16);
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) w[ch * 16 + i * 4 + j] = k1[i] * k1[j];
    const padded = g.op(
      'Pad',
      [dy, g.constInt64([0, 0, 1, 1, 0, 0, 1, 1])],
      { mode: { type: 'string', value: 'edge' } },
      (g.shape(dy) as number[]).map((d, i) => (i >= 2 ? d + 2 : d)),
    );
    return [g.conv(padded, g.constFloat(w, [c, 1, 4, 4]), undefined, { strides: [2, 2], group: c })];
  }
  throw unsupported();
};

function poolAttrs(node: Parameters<GradRule>[0]['node']): { k: [number, number]; s: number[] } {
  const kernel = attrInts(node, 'kernel_shape', []);
  const strides = attrInts(node, 'strides', [1, 1]);
  const pads = attrInts(node, 'pads', [0, 0, 0, 0]);
  if (kernel.length !== 2 || pads.some((p) => p !== 0) || attrInt(node, 'ceil_mode', 0) !== 0)
    throw new RangeError(`autodiff: ${node.opType} needs a 2-D kernel without padding (node ${node.name})`);
  return { k: [kernel[0], kernel[1]], s: strides };
}

/**
 * AveragePool without padding: each output's gradient spread evenly over its window (nearest upsampling for
 * non-overlapping windows, else a depthwise ConvTranspose with 1/(kh·kw) weights).
 */
const AveragePool: GradRule = ({ g, node, dy }) => {
  const { k, s } = poolAttrs(node);
  const dims = g.shape(node.inputs[0]) as number[];
  if (s[0] === k[0] && s[1] === k[1]) return [scale(g, spread(g, dy, k, dims), 1 / (k[0] * k[1]))];
  const c = dims[1];
  const w = g.constFloat(new Float32Array(c * k[0] * k[1]).fill(1 / (k[0] * k[1])), [c, 1, k[0], k[1]]);
  const [, , oh, ow] = g.shape(dy) as number[];
  const outPad = [dims[2] - ((oh - 1) * s[0] + k[0]), dims[3] - ((ow - 1) * s[1] + k[1])];
  return [
    g.op(
      'ConvTranspose',
      [dy, w],
      {
        kernel_shape: ints(k),
        strides: ints(s),
        group: { type: 'int', value: c },
        output_padding: ints(outPad),
      },
      dims,
    ),
  ];
};

/**
 * MaxPool with non-overlapping windows: dy goes to the positions equal to their window's maximum (to each of
 * them on a tie).
 */
const MaxPool: GradRule = ({ g, node, dy }) => {
  const { k, s } = poolAttrs(node);
  if (s[0] !== k[0] || s[1] !== k[1] || node.outputs.length !== 1)
    throw new RangeError(`autodiff: MaxPool needs stride = kernel (node ${node.name})`);
  const x = node.inputs[0];
  const dims = g.shape(x) as number[];
  const isMax = g.op('Equal', [x, spread(g, node.outputs[0], k, dims)], {}, dims, 'bool');
  return [g.op('Where', [isMax, spread(g, dy, k, dims), g.constFloat([0], [])], {}, dims)];
};

export const SPATIAL_RULES: Record<string, GradRule> = { Resize, AveragePool, MaxPool };
