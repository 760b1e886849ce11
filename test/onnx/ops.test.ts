/**
 * Op-level tests: each UNet building block, built as its own ONNX graph and run by onnxruntime, against a
 * direct float64 JavaScript reference (reference.ts) or the fixture activations.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  activation,
  attentionBlock,
  type BuildContext,
  firDownsample,
  firUpsample,
  groupNorm,
  nearestUpsample,
  resnetBlock,
} from '../../src/models/unet-2d/layers.js';
import { fourierArgument, positionalArgument } from '../../src/models/unet-2d/time.js';
import { ParamTable, type StateDict } from '../../src/models/unet-2d/weights.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { OnnxSession } from '../../src/onnx/session.js';
import { Tensor } from '../../src/tensor.js';
import { loadCase, relErr } from '../models/fixtures.js';
import * as ref from './reference.js';

const toTensor = (a: ref.Arr) => new Tensor('float32', Float32Array.from(a.data), a.dims);

/** Builds `body` into a graph over inputs x (and temb), runs it once, returns the output as float64. */
async function runBlock(
  inputs: Record<string, ref.Arr>,
  params: Record<string, ref.Arr>,
  body: (ctx: BuildContext, x: string, temb: string) => string,
): Promise<ref.Arr> {
  const g = new GraphBuilder('op-test');
  const names = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, g.input(k, 'float32', v.dims)]),
  );
  const sd: StateDict = new Map(Object.entries(params).map(([k, v]) => [k, toTensor(v)]));
  const table = new ParamTable(sd);
  const ctx: BuildContext = { g, params: table, actFn: 'silu', record: () => {} };
  g.output(body(ctx, names.x, names.temb), 'y');
  table.check((m) => new Error(m));
  const session = await OnnxSession.create(g.toModelBytes(), { intraOpThreads: 1 });
  try {
    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, toTensor(v)]));
    const y = (await session.run(feeds)).get('y')!;
    return { data: Float64Array.from(y.data as Float32Array), dims: [...y.dims] };
  } finally {
    await session.release();
  }
}

function assertClose(actual: ref.Arr, want: ref.Arr, tol: number, what: string): void {
  assert.deepEqual(actual.dims, want.dims, `${what}: shape`);
  const err = relErr(actual.data, want.data);
  assert.ok(err <= tol, `${what}: rel error ${err.toExponential(2)} > ${tol}`);
}

describe('GroupNorm as Reshape → InstanceNormalization → Reshape → affine', () => {
  for (const [c, groups] of [
    [8, 4],
    [6, 6],
    [12, 3],
  ]) {
    it(`${groups} groups over ${c} channels`, async () => {
      const x = ref.randomArr([2, c, 5, 3], 1, 4);
      const gamma = ref.randomArr([c], 2);
      const beta = ref.randomArr([c], 3);
      const y = await runBlock({ x }, { 'n.weight': gamma, 'n.bias': beta }, (ctx, xv) =>
        groupNorm(ctx, xv, 'n', groups, 1e-6),
      );
      assertClose(y, ref.groupNorm(x, groups, gamma, beta, 1e-6), 2e-6, 'groupNorm');
    });
  }
});

describe('FIR resampling vs upfirdn2d', () => {
  // float32-exact inputs, so a pure copy can be checked for equality.
  const x = ref.map(ref.randomArr([1, 3, 6, 8], 4, 10), Math.fround);
  it('downsample_2d: depthwise stride-2 4×4 conv = upfirdn2d(down=2, pad=(1, 1))', async () => {
    const y = await runBlock({ x }, {}, (ctx, xv) => firDownsample(ctx.g, xv));
    assertClose(y, ref.upfirdn2d(x, [1, 3, 3, 1], 1, 1, 2, 1, 1), 1e-6, 'firDownsample');
  });
  it('upsample_2d: Pad → Resize(linear) → Slice = upfirdn2d(up=2, pad=(2, 1), gain 4)', async () => {
    const y = await runBlock({ x }, {}, (ctx, xv) => firUpsample(ctx.g, xv));
    assertClose(y, ref.upfirdn2d(x, [1, 3, 3, 1], 4, 2, 1, 2, 1), 1e-6, 'firUpsample');
  });
  it('nearest ×2 upsample repeats each pixel', async () => {
    const y = await runBlock({ x }, {}, (ctx, xv) => nearestUpsample(ctx.g, xv));
    const want = ref.map({ data: new Float64Array(3 * 12 * 16), dims: [1, 3, 12, 16] }, (_, i) => {
      const [c, r, col] = [Math.floor(i / 192), Math.floor(i / 16) % 12, i % 16];
      return x.data[c * 48 + Math.floor(r / 2) * 8 + Math.floor(col / 2)];
    });
    assertClose(y, want, 0, 'nearest');
  });
});

describe('Attention (deprecated attention block)', () => {
  it('2 heads, GroupNorm, residual and rescale', async () => {
    const c = 8;
    const x = ref.randomArr([2, c, 3, 4], 5, 3);
    const p: Record<string, ref.Arr> = {
      'group_norm.weight': ref.randomArr([c], 6),
      'group_norm.bias': ref.randomArr([c], 7),
    };
    ['to_q', 'to_k', 'to_v', 'to_out.0'].forEach((n, i) => {
      p[`${n}.weight`] = ref.randomArr([c, c], 10 + i, 0.5);
      p[`${n}.bias`] = ref.randomArr([c], 20 + i, 0.5);
    });
    const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [`a.${k}`, v]));
    const spec = { channels: c, heads: 2, headDim: 4, groups: 4, eps: 1e-6, rescaleOutputFactor: Math.SQRT2 };
    const y = await runBlock({ x }, params, (ctx, xv) => attentionBlock(ctx, xv, 'a', spec));
    assertClose(y, ref.attention(x, p, 2, 4, 1e-6, Math.SQRT2), 1e-5, 'attention');
  });
});

describe('ResnetBlock2D', () => {
  it('scale_shift time embedding, FIR down on both paths, 1×1 shortcut, output_scale_factor √2', async () => {
    const [cin, cout, tch] = [4, 8, 6];
    const x = ref.randomArr([2, cin, 6, 6], 30, 2);
    const temb = ref.randomArr([2, tch], 31, 2);
    const p: Record<string, ref.Arr> = {
      'norm1.weight': ref.randomArr([cin], 32),
      'norm1.bias': ref.randomArr([cin], 33),
      'conv1.weight': ref.randomArr([cout, cin, 3, 3], 34, 0.3),
      'conv1.bias': ref.randomArr([cout], 35),
      'time_emb_proj.weight': ref.randomArr([2 * cout, tch], 36, 0.4),
      'time_emb_proj.bias': ref.randomArr([2 * cout], 37),
      'norm2.weight': ref.randomArr([cout], 38),
      'norm2.bias': ref.randomArr([cout], 39),
      'conv2.weight': ref.randomArr([cout, cout, 3, 3], 40, 0.3),
      'conv2.bias': ref.randomArr([cout], 41),
      'conv_shortcut.weight': ref.randomArr([cout, cin, 1, 1], 42),
      'conv_shortcut.bias': ref.randomArr([cout], 43),
    };
    const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [`r.${k}`, v]));
    const y = await runBlock({ x, temb }, params, (ctx, xv, tv) =>
      resnetBlock(ctx, xv, activation(ctx.g, tv, 'silu'), 'r', {
        inCh: cin,
        outCh: cout,
        tembCh: tch,
        groups: 2,
        groupsOut: 4,
        eps: 1e-6,
        outputScaleFactor: Math.SQRT2,
        resample: 'fir-down',
        timeScaleShift: 'scale_shift',
      }),
    );
    // Reference, step by step as ResnetBlock2D.forward.
    const fir = (a: ref.Arr) => ref.upfirdn2d(a, [1, 3, 3, 1], 1, 1, 2, 1, 1);
    let h = fir(ref.silu(ref.groupNorm(x, 2, p['norm1.weight'], p['norm1.bias'], 1e-6)));
    h = ref.conv2d(h, p['conv1.weight'], p['conv1.bias'], 1, 1);
    const t = ref.silu(temb);
    const proj = (bi: number, o: number) => {
      let s = p['time_emb_proj.bias'].data[o];
      for (let i = 0; i < tch; i++) s += p['time_emb_proj.weight'].data[o * tch + i] * t.data[bi * tch + i];
      return s;
    };
    h = ref.groupNorm(h, 4, p['norm2.weight'], p['norm2.bias'], 1e-6);
    const hw = 9;
    h = ref.map(h, (v, i) => {
      const bi = Math.floor(i / (cout * hw));
      const ch = Math.floor(i / hw) % cout;
      return v * (1 + proj(bi, ch)) + proj(bi, cout + ch);
    });
    h = ref.conv2d(ref.silu(h), p['conv2.weight'], p['conv2.bias'], 1, 1);
    const shortcut = ref.conv2d(fir(x), p['conv_shortcut.weight'], p['conv_shortcut.bias']);
    const want = ref.map(ref.add(shortcut, h), (v) => v / Math.SQRT2);
    assertClose(y, want, 1e-5, 'resnet');
  });
});

describe('time embedding arguments (float32, torch operation order)', () => {
  it('fourier: sin/cos of ((log σ · W) · 2) · f32(π) reproduce torch time_proj to sin/cos rounding', async () => {
    const c = await loadCase('tiny-ncsnpp/cases/b1_sigma50.safetensors');
    const { loadSafetensors } = await import('../../src/io/safetensors.js');
    const { MODELS_DIR } = await import('../models/fixtures.js');
    const w = (
      await loadSafetensors(`${MODELS_DIR}tiny-ncsnpp/diffusion_pytorch_model.safetensors`)
    ).tensors.get('time_proj.weight')!;
    const arg = fourierArgument(Float32Array.of(50), w.data as Float32Array);
    const emb = [...Array.from(arg, Math.sin), ...Array.from(arg, Math.cos)];
    const want = c.get('act/time_proj')!.data as Float32Array;
    // |arg| reaches ~1e3: a double-precision argument would be off by ~1e-4 here.
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(emb[i] - want[i]));
    assert.ok(maxDiff < 1e-6, `max diff ${maxDiff}`);
  });
  it('positional: flip_sin_to_cos gives [cos, sin] of t · exp(−ln 10⁴ · i / half)', async () => {
    const c = await loadCase('tiny-ddpm/cases/b1_t10_int.safetensors');
    const arg = positionalArgument(Float32Array.of(10), 32, 0);
    const emb = [...Array.from(arg, Math.cos), ...Array.from(arg, Math.sin)];
    const want = c.get('act/time_proj')!.data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(emb[i] - want[i]));
    assert.ok(maxDiff < 1e-6, `max diff ${maxDiff}`);
  });
});
