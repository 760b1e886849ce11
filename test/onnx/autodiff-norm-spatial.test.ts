/**
 * Gradient rules of the normalisations, softmaxes and spatial resampling, and of the UNet's composite layers
 * (GroupNorm, FIR up/down, attention) built with parameters as graph inputs, against float64 finite differences.
 */
import { describe, it } from 'node:test';
import { InputParams } from '../../src/gradients/input-params.js';
import {
  attentionBlock,
  type BuildContext,
  firDownsample,
  firUpsample,
  groupNorm,
} from '../../src/models/unet-2d/layers.js';
import type { GraphBuilder } from '../../src/onnx/graph.js';
import { checkGrad } from './autodiff-check.js';
import * as ref from './reference.js';

const arr = (data: Float64Array, dims: number[]): ref.Arr => ({ data, dims });

/** GroupNorm in float64 (the reference.ts one) on raw arrays. */
const gn = (x: Float64Array, dims: number[], groups: number, w: Float64Array, b: Float64Array, eps: number) =>
  ref.groupNorm(arr(x, dims), groups, arr(w, [w.length]), arr(b, [b.length]), eps).data;

/** A BuildContext whose parameters are graph inputs (as training graphs make them). */
function ctxOf(g: GraphBuilder): BuildContext {
  return { g, params: new InputParams(), actFn: 'silu', record: () => {} };
}

describe('autodiff: normalisation', () => {
  it('InstanceNormalization with scale and bias (rank 4)', async () => {
    const d = [2, 3, 4, 5];
    await checkGrad({
      inputs: { x: { dims: d, scale: 2, offset: 0.3 }, s: { dims: [3] }, b: { dims: [3] } },
      build: (g, v) => g.instanceNorm(v.x, v.s, v.b, 1e-5),
      ref: (v) => gn(v.x, d, 3, v.s, v.b, 1e-5),
    });
  });
  it('GroupNorm as InstanceNorm on (B, G, ·) + channel affine (BatchNormalization)', async () => {
    const d = [2, 6, 3, 3];
    await checkGrad({
      inputs: {
        x: { dims: d, scale: 2 },
        'n.weight': { dims: [6], param: true },
        'n.bias': { dims: [6], param: true },
      },
      build: (g, v) => groupNorm(ctxOf(g), v.x, 'n', 2, 1e-6),
      ref: (v) => gn(v.x, d, 2, v['n.weight'], v['n.bias'], 1e-6),
    });
  });
  it('GroupNorm with one channel per group (InstanceNormalization with the affine)', async () => {
    const d = [2, 4, 3, 3];
    await checkGrad({
      inputs: {
        x: { dims: d, scale: 2 },
        'n.weight': { dims: [4], param: true },
        'n.bias': { dims: [4], param: true },
      },
      build: (g, v) => groupNorm(ctxOf(g), v.x, 'n', 4, 1e-6),
      ref: (v) => gn(v.x, d, 4, v['n.weight'], v['n.bias'], 1e-6),
    });
  });
  it('BatchNormalization (inference) with constant mean and var', async () => {
    const d = [2, 3, 2, 2];
    const mean = [0.5, -1, 0.25];
    const variance = [2, 0.5, 1.5];
    await checkGrad({
      inputs: { x: { dims: d }, s: { dims: [3] }, b: { dims: [3] } },
      build: (g, v) =>
        g.op(
          'BatchNormalization',
          [v.x, v.s, v.b, g.constFloat(mean), g.constFloat(variance)],
          { epsilon: { type: 'float', value: 1e-3 } },
          d,
        ),
      ref: (v) =>
        v.x.map((x, i) => {
          const c = Math.floor(i / 4) % 3;
          return ((x - mean[c]) / Math.sqrt(variance[c] + 1e-3)) * v.s[c] + v.b[c];
        }),
    });
  });
  it('channelAffine (BatchNormalization as x · scale + bias)', async () => {
    const d = [2, 3, 2, 2];
    await checkGrad({
      inputs: { x: { dims: d }, s: { dims: [3] }, b: { dims: [3] } },
      build: (g, v) => g.channelAffine(v.x, v.s, v.b),
      ref: (v) => v.x.map((x, i) => x * v.s[Math.floor(i / 4) % 3] + v.b[Math.floor(i / 4) % 3]),
    });
  });
});

describe('autodiff: softmax', () => {
  const d = [2, 3, 5];
  const soft = (x: Float64Array, log: boolean) => {
    const out = new Float64Array(x.length);
    for (let r = 0; r < x.length / 5; r++) {
      const row = x.subarray(r * 5, r * 5 + 5);
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      for (let i = 0; i < 5; i++) out[r * 5 + i] = log ? row[i] - m - Math.log(z) : Math.exp(row[i] - m) / z;
    }
    return out;
  };
  it('Softmax (last axis)', async () => {
    await checkGrad({
      inputs: { x: { dims: d, scale: 3 } },
      build: (g, v) => g.softmax(v.x, -1),
      ref: (v) => soft(v.x, false),
    });
  });
  it('LogSoftmax + ReduceSum (cross-entropy)', async () => {
    await checkGrad({
      inputs: { x: { dims: d, scale: 3 } },
      build: (g, v) => g.op('LogSoftmax', [v.x], { axis: { type: 'int', value: 2 } }, d),
      ref: (v) => soft(v.x, true),
    });
  });
});

/** Resize ×2 in float64: nearest (asymmetric, floor) or linear (half_pixel, clamped). */
function resize2(x: Float64Array, dims: number[], mode: 'nearest' | 'linear'): Float64Array {
  const [n, c, h, w] = dims;
  const out = new Float64Array(n * c * 4 * h * w);
  const taps = (o: number, size: number): [number, number, number] => {
    if (mode === 'nearest') return [Math.floor(o / 2), 0, 0];
    const s = Math.min(Math.max((o + 0.5) / 2 - 0.5, 0), size - 1);
    const i0 = Math.floor(s);
    return [i0, Math.min(i0 + 1, size - 1), s - i0];
  };
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < 2 * h; i++)
      for (let j = 0; j < 2 * w; j++) {
        const [y0, y1, fy] = taps(i, h);
        const [x0, x1, fx] = taps(j, w);
        const at = (y: number, xx: number) => x[p * h * w + y * w + xx];
        out[p * 4 * h * w + i * 2 * w + j] =
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
          fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
      }
  return out;
}

function pool(x: Float64Array, dims: number[], k: number, s: number, max: boolean): Float64Array {
  const [n, c, h, w] = dims;
  const oh = Math.floor((h - k) / s) + 1;
  const ow = Math.floor((w - k) / s) + 1;
  const out = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let acc = max ? -Infinity : 0;
        for (let a = 0; a < k; a++)
          for (let b = 0; b < k; b++) {
            const v = x[p * h * w + (i * s + a) * w + j * s + b];
            acc = max ? Math.max(acc, v) : acc + v / (k * k);
          }
        out[p * oh * ow + i * ow + j] = acc;
      }
  return out;
}

describe('autodiff: spatial resampling', () => {
  const d = [2, 2, 3, 4];
  it('Resize ×2 nearest (asymmetric)', async () => {
    await checkGrad({
      inputs: { x: { dims: d } },
      build: (g, v) => g.resize(v.x, [1, 1, 2, 2], 'nearest', 'asymmetric'),
      ref: (v) => resize2(v.x, d, 'nearest'),
    });
  });
  it('Resize ×2 linear (half_pixel)', async () => {
    await checkGrad({
      inputs: { x: { dims: d } },
      build: (g, v) => g.resize(v.x, [1, 1, 2, 2], 'linear', 'half_pixel'),
      ref: (v) => resize2(v.x, d, 'linear'),
    });
  });
  it('FIR upsample (Resize + edge mask) and FIR downsample (depthwise conv) against upfirdn2d', async () => {
    const dd = [1, 2, 4, 4];
    await checkGrad({
      inputs: { x: { dims: dd } },
      build: (g, v) => firDownsample(g, firUpsample(g, v.x)),
      ref: (v) => {
        const up = ref.upfirdn2d(arr(v.x, dd), [1, 3, 3, 1], 4, 2, 1, 2, 1);
        return ref.upfirdn2d(up, [1, 3, 3, 1], 1, 1, 2, 1, 1).data;
      },
    });
  });
  it('FIR downsample of an odd size (its adjoint falls back to the transposed convolution)', async () => {
    const dd = [1, 2, 7, 5];
    await checkGrad({
      inputs: { x: { dims: dd } },
      build: (g, v) => firDownsample(g, v.x),
      ref: (v) => ref.upfirdn2d(arr(v.x, dd), [1, 3, 3, 1], 1, 1, 2, 1, 1).data,
    });
  });
  it('AveragePool 2×2 stride 2 on an odd size', async () => {
    const dd = [1, 2, 5, 4];
    await checkGrad({
      inputs: { x: { dims: dd } },
      build: (g, v) => g.averagePool(v.x, [2, 2], [2, 2]),
      ref: (v) => pool(v.x, dd, 2, 2, false),
    });
  });
  it('AveragePool 3×3 stride 2 (overlapping windows)', async () => {
    const dd = [1, 2, 7, 6];
    await checkGrad({
      inputs: { x: { dims: dd } },
      build: (g, v) => g.averagePool(v.x, [3, 3], [2, 2]),
      ref: (v) => pool(v.x, dd, 3, 2, false),
    });
  });
  it('MaxPool 2×2 stride 2', async () => {
    const dd = [2, 2, 4, 6];
    await checkGrad({
      inputs: { x: { dims: dd } },
      build: (g, v) =>
        g.op(
          'MaxPool',
          [v.x],
          { kernel_shape: { type: 'ints', value: [2, 2] }, strides: { type: 'ints', value: [2, 2] } },
          [2, 2, 2, 3],
        ),
      ref: (v) => pool(v.x, dd, 2, 2, true),
    });
  });
});

describe('autodiff: attention block (GroupNorm, 1×1 q/k/v/out, batched MatMul, Softmax, residual)', () => {
  it('two heads, rescale √2: input and every parameter', async () => {
    const [b, c, h, w] = [2, 4, 2, 3];
    const names = ['to_q', 'to_k', 'to_v', 'to_out.0'];
    const inputs: Record<string, { dims: number[]; scale?: number; param?: boolean; zeroGrad?: boolean }> = {
      x: { dims: [b, c, h, w], scale: 2 },
      'a.group_norm.weight': { dims: [c], param: true },
      'a.group_norm.bias': { dims: [c], param: true },
    };
    for (const n of names) {
      inputs[`a.${n}.weight`] = { dims: [c, c], param: true };
      inputs[`a.${n}.bias`] = { dims: [c], param: true };
    }
    // softmax ignores a constant shift of the scores, so the key bias has no gradient.
    inputs['a.to_k.bias'].zeroGrad = true;
    await checkGrad({
      inputs,
      build: (g, v) =>
        attentionBlock(ctxOf(g), v.x, 'a', {
          channels: c,
          heads: 2,
          headDim: 2,
          groups: 2,
          eps: 1e-6,
          rescaleOutputFactor: Math.SQRT2,
        }),
      ref: (v) => {
        const p: Record<string, ref.Arr> = {};
        for (const [k, val] of Object.entries(v)) if (k !== 'x') p[k.slice(2)] = arr(val, inputs[k].dims);
        return ref.attention(arr(v.x, [b, c, h, w]), p, 2, 2, 1e-6, Math.SQRT2).data;
      },
    });
  });
});
