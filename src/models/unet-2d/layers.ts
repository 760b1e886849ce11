/**
 * The UNet's building blocks as ONNX subgraphs, each mirroring one diffusers v0.23.0 module
 * (GroupNorm, Conv2d, Linear, ResnetBlock2D, Attention, Downsample2D/Upsample2D, FIR resampling).
 * Parameters are requested by their state-dict name, so the graph and the checkpoint keys can't drift.
 */
import { ConfigError } from '../../errors.js';
import type { GraphBuilder } from '../../onnx/graph.js';
import type { Activation } from './config.js';

/** Hands out parameters by state-dict name (checking the expected shape), as graph initializers. */
export interface ParamSource {
  /** The initializer for `name`, expected with `dims`; `viewDims` re-shapes it for the graph (same data). */
  param(g: GraphBuilder, name: string, dims: number[], viewDims?: number[]): string;
  /** Marks `name` as used without adding it to the graph (it is consumed on the host). */
  claim(name: string, dims: number[]): void;
}

/** What every block needs while the graph is built. */
export interface BuildContext {
  g: GraphBuilder;
  params: ParamSource;
  actFn: Activation;
  /** Records a named intermediate (`act/<module path>`) when activations are requested. */
  record(path: string, value: string): void;
  /**
   * Training graphs: ResnetBlock2D's dropout at `path` (between norm2/act and conv2), e.g. x · mask with a
   * mask graph input. Absent in inference graphs, where dropout is the identity.
   */
  dropout?(path: string, x: string): string;
}

/** get_activation(act_fn). */
export function activation(g: GraphBuilder, x: string, fn: Activation): string {
  switch (fn) {
    case 'silu':
    case 'swish':
      return g.silu(x);
    case 'relu':
      return g.relu(x);
    case 'gelu':
      return g.gelu(x);
    case 'mish':
      return g.mul(x, g.tanh(g.softplus(x)));
  }
}

/**
 * torch.nn.GroupNorm(groups, C, eps, affine=True) on (B, C, H, W), written as
 * Reshape (B, G, -1) → InstanceNormalization → Reshape → per-channel affine, because onnxruntime's CPU
 * provider has no GroupNormalization kernel (its expansion runs 1.5× slower). Tagged as the composite 'GroupNorm'
 * (inputs x, γ, β; the normalised x̂ for its adjoint).
 */
export function groupNorm(ctx: BuildContext, x: string, path: string, groups: number, eps: number): string {
  const { g } = ctx;
  const dims = g.shape(x);
  const c = dims[1] as number;
  if (c % groups !== 0)
    throw new ConfigError(
      `UNet2DModel config: ${path} is a GroupNorm of ${groups} groups over ${c} channels (not divisible)`,
    );
  const scale = ctx.params.param(g, `${path}.weight`, [c]);
  const bias = ctx.params.param(g, `${path}.bias`, [c]);
  return g.composite('GroupNorm', [x, scale, bias], { groups, epsilon: eps }, () => {
    // One channel per group: InstanceNormalization is GroupNorm, affine included.
    if (groups === c) return { output: g.instanceNorm(x, scale, bias, eps) };
    const grouped = g.reshape(x, [0, groups, -1]); // (B, G, C/G·H·W)
    const ones = g.constFloat(new Float32Array(groups).fill(1));
    const zeros = g.constFloat(new Float32Array(groups));
    const normed = g.instanceNorm(grouped, ones, zeros, eps);
    const normalized = g.reshape(
      normed,
      dims.map((d, i) => (i === 0 ? 0 : (d as number))),
    );
    // One pass for the affine instead of Mul + Add.
    return { output: g.channelAffine(normalized, scale, bias), values: { normalized } };
  });
}

export interface ConvSpec {
  inCh: number;
  outCh: number;
  kernel: number;
  stride?: number;
  padding?: number;
  bias?: boolean;
}

/** torch.nn.Conv2d with square kernel, stride and padding. */
export function conv2d(ctx: BuildContext, x: string, path: string, s: ConvSpec): string {
  const w = ctx.params.param(ctx.g, `${path}.weight`, [s.outCh, s.inCh, s.kernel, s.kernel]);
  const b = s.bias === false ? undefined : ctx.params.param(ctx.g, `${path}.bias`, [s.outCh]);
  const p = s.padding ?? 0;
  const st = s.stride ?? 1;
  return ctx.g.conv(x, w, b, { strides: [st, st], pads: [p, p, p, p] });
}

/** torch.nn.Linear on (N, in). */
export function linear(ctx: BuildContext, x: string, path: string, inF: number, outF: number): string {
  const w = ctx.params.param(ctx.g, `${path}.weight`, [outF, inF]);
  const b = ctx.params.param(ctx.g, `${path}.bias`, [outF]);
  return ctx.g.linear(x, w, b);
}

/** 1-D FIR kernel (1, 3, 3, 1) normalised; its outer product is upfirdn2d's 2-D kernel. */
const FIR_1D = [1, 3, 3, 1].map((v) => v / 8);

/**
 * downsample_2d(x, kernel=(1,3,3,1), factor=2) = upfirdn2d(x, k⊗k / 64, down=2, pad=(1, 1)): a depthwise
 * stride-2 4×4 convolution (the kernel is symmetric, so torch's flip changes nothing).
 */
export function firDownsample(g: GraphBuilder, x: string): string {
  return g.composite('FirDownsample', [x], {}, () => ({ output: firDownsampleConv(g, x, 1) }));
}

/** The depthwise stride-2 convolution of firDownsample with the kernel scaled by `gain`. */
export function firDownsampleConv(g: GraphBuilder, x: string, gain: number): string {
  const c = g.shape(x)[1] as number;
  const k = new Float32Array(c * 16);
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) k[ch * 16 + i * 4 + j] = gain * FIR_1D[i] * FIR_1D[j];
  const w = g.constFloat(k, [c, 1, 4, 4]);
  return g.conv(x, w, undefined, { strides: [2, 2], pads: [1, 1, 1, 1], group: c });
}

/**
 * upsample_2d(x, kernel=(1,3,3,1), factor=2) = upfirdn2d(x, 4·k⊗k / 64, up=2, pad=(2, 1)). Per axis that is
 * out[2i] = ¼x[i−1] + ¾x[i], out[2i+1] = ¾x[i] + ¼x[i+1] with zeros outside: Resize(linear, half_pixel, ×2),
 * whose edge clamping gives x[0] where ¾x[0] is due, so the first and last row and column are scaled by ¾
 * (a constant mask; separable, so ⁹⁄₁₆ at the corners). onnxruntime's depthwise ConvTranspose runs at ~1 GFLOP/s;
 * this is also cheaper than Pad → Resize → Slice.
 */
export function firUpsample(g: GraphBuilder, x: string): string {
  return g.composite('FirUpsample', [x], {}, () => ({ output: firUpsampleResize(g, x, 1) }));
}

/** firUpsample's Resize and edge mask, scaled by `gain`. */
export function firUpsampleResize(g: GraphBuilder, x: string, gain: number): string {
  const [, , h, w] = g.shape(x) as number[];
  const up = g.resize(x, [1, 1, 2, 2], 'linear', 'half_pixel');
  const [oh, ow] = [2 * h, 2 * w];
  const edge = (i: number, n: number) => (i === 0 || i === n - 1 ? 0.75 : 1);
  const mask = new Float32Array(oh * ow);
  for (let i = 0; i < oh; i++)
    for (let j = 0; j < ow; j++) mask[i * ow + j] = gain * edge(i, oh) * edge(j, ow);
  return g.mul(up, g.constFloat(mask, [1, 1, oh, ow]));
}

/** F.interpolate(scale_factor=2, mode='nearest'). */
export function nearestUpsample(g: GraphBuilder, x: string): string {
  return g.resize(x, [1, 1, 2, 2], 'nearest', 'asymmetric');
}

export type Resample = 'none' | 'fir-up' | 'fir-down' | 'nearest-up' | 'avgpool-down';

function resample(g: GraphBuilder, x: string, r: Resample): string {
  switch (r) {
    case 'none':
      return x;
    case 'fir-up':
      return firUpsample(g, x);
    case 'fir-down':
      return firDownsample(g, x);
    case 'nearest-up':
      return nearestUpsample(g, x);
    case 'avgpool-down':
      return g.averagePool(x, [2, 2], [2, 2]);
  }
}

export interface ResnetSpec {
  inCh: number;
  outCh: number;
  tembCh: number;
  groups: number;
  /** Defaults to `groups` (ResnetBlock2D's groups_out=None). */
  groupsOut?: number;
  eps: number;
  outputScaleFactor?: number;
  /** ResnetBlock2D up/down with kernel "fir" or the default resampler. */
  resample?: Resample;
  /** Defaults to inCh ≠ outCh. */
  useInShortcut?: boolean;
  timeScaleShift?: 'default' | 'scale_shift';
}

/**
 * ResnetBlock2D.forward(x, temb) with pre-norm, as in diffusers 0.23.0. `tembAct` is act_fn(temb), which the
 * caller computes once for all resnets. Dropout is the identity unless `ctx.dropout` is set.
 */
export function resnetBlock(
  ctx: BuildContext,
  x: string,
  tembAct: string,
  path: string,
  s: ResnetSpec,
): string {
  const { g } = ctx;
  const shift = s.timeScaleShift ?? 'default';
  let h = groupNorm(ctx, x, `${path}.norm1`, s.groups, s.eps);
  h = activation(g, h, ctx.actFn);
  let input = x;
  const r = s.resample ?? 'none';
  if (r !== 'none') {
    input = resample(g, input, r);
    h = resample(g, h, r);
  }
  h = conv2d(ctx, h, `${path}.conv1`, { inCh: s.inCh, outCh: s.outCh, kernel: 3, padding: 1 });
  const projCh = shift === 'scale_shift' ? 2 * s.outCh : s.outCh;
  const t = g.unsqueeze(linear(ctx, tembAct, `${path}.time_emb_proj`, s.tembCh, projCh), [2, 3]); // (B, C', 1, 1)
  if (shift === 'default') h = g.add(h, t);
  h = groupNorm(ctx, h, `${path}.norm2`, s.groupsOut ?? s.groups, s.eps);
  if (shift === 'scale_shift') {
    const scale = g.slice(t, [0], [s.outCh], [1]);
    const bias = g.slice(t, [s.outCh], [2 * s.outCh], [1]);
    h = g.add(g.mul(h, g.add(scale, g.constFloat([1], []))), bias);
  }
  h = activation(g, h, ctx.actFn);
  if (ctx.dropout) h = ctx.dropout(path, h);
  h = conv2d(ctx, h, `${path}.conv2`, { inCh: s.outCh, outCh: s.outCh, kernel: 3, padding: 1 });
  if (s.useInShortcut ?? s.inCh !== s.outCh) {
    input = conv2d(ctx, input, `${path}.conv_shortcut`, { inCh: s.inCh, outCh: s.outCh, kernel: 1 });
  }
  let out = g.add(input, h);
  const osf = s.outputScaleFactor ?? 1;
  if (osf !== 1) out = g.div(out, g.constFloat([osf], []));
  ctx.record(path, out);
  return out;
}

export interface AttentionSpec {
  channels: number;
  heads: number;
  headDim: number;
  /** GroupNorm groups, or null for no norm (the mid-block with scale_shift and no attn_norm_num_groups). */
  groups: number | null;
  eps: number;
  rescaleOutputFactor: number;
}

/**
 * Attention(_from_deprecated_attn_block=True) on (B, C, H, W) with AttnProcessor: GroupNorm, q/k/v Linear,
 * softmax(q kᵀ · d^-½), to_out[0], + residual, / rescale_output_factor. The Linear layers run as 1×1
 * convolutions on the channel-first layout, which is the same maths and needs no weight transposes.
 */
export function attentionBlock(ctx: BuildContext, x: string, path: string, s: AttentionSpec): string {
  const { g } = ctx;
  const [, c, hh, ww] = g.shape(x) as number[];
  const hw = hh * ww;
  const inner = s.heads * s.headDim;
  let h = s.groups === null ? x : groupNorm(ctx, x, `${path}.group_norm`, s.groups, s.eps);
  const proj = (name: string, inF: number, outF: number, v: string) => {
    const w = ctx.params.param(g, `${path}.${name}.weight`, [outF, inF], [outF, inF, 1, 1]);
    const b = ctx.params.param(g, `${path}.${name}.bias`, [outF]);
    return g.conv(v, w, b);
  };
  const q = g.reshape(proj('to_q', c, inner, h), [0, s.heads, s.headDim, hw]); // (B, h, d, HW)
  const k = g.reshape(proj('to_k', c, inner, h), [0, s.heads, s.headDim, hw]);
  const v = g.reshape(proj('to_v', c, inner, h), [0, s.heads, s.headDim, hw]);
  const o = scaledDotProductAttention(g, q, k, v, s.headDim ** -0.5); // (B, h, d, HWq)
  h = g.reshape(o, [0, inner, hh, ww]);
  h = proj('to_out.0', inner, c, h);
  h = g.add(h, x);
  if (s.rescaleOutputFactor !== 1) h = g.div(h, g.constFloat([s.rescaleOutputFactor], []));
  ctx.record(path, h);
  return h;
}

/**
 * softmax(qᵀk · scale) applied to v, channel-first: q, k, v (B, h, d, HW) → (B, h, d, HWq). Tagged as the
 * composite 'Attention' (inputs q, k, v; the probabilities for its adjoint).
 */
export function scaledDotProductAttention(
  g: GraphBuilder,
  q: string,
  k: string,
  v: string,
  scale: number,
): string {
  return g.composite('Attention', [q, k, v], { scale }, () => {
    const scores = g.mul(g.matmul(g.transpose(q, [0, 1, 3, 2]), k), g.constFloat([scale], [])); // (B, h, HWq, HWk)
    const probs = g.softmax(scores, -1);
    return { output: g.matmul(v, g.transpose(probs, [0, 1, 3, 2])), values: { probs } };
  });
}

/** Downsample2D(use_conv=True): 3×3 stride-2 conv; padding 0 pads (0, 1, 0, 1) first, as diffusers does. */
export function convDownsample(
  ctx: BuildContext,
  x: string,
  path: string,
  ch: number,
  padding: number,
): string {
  const src = padding === 0 ? ctx.g.pad(x, [0, 0, 0, 0, 0, 0, 1, 1]) : x;
  const out = conv2d(ctx, src, `${path}.conv`, { inCh: ch, outCh: ch, kernel: 3, stride: 2, padding });
  ctx.record(path, out);
  return out;
}

/** Upsample2D(use_conv=True): nearest ×2, then a 3×3 conv. */
export function convUpsample(ctx: BuildContext, x: string, path: string, ch: number): string {
  const out = conv2d(ctx, nearestUpsample(ctx.g, x), `${path}.conv`, {
    inCh: ch,
    outCh: ch,
    kernel: 3,
    padding: 1,
  });
  ctx.record(path, out);
  return out;
}
