/**
 * The blocked-layout (NCHWc) rewrite of convolutions with computed or fed weights (src/onnx/nchwc.ts): every
 * supported shape against the same graph on the standard kernels, the sharing of reorders, what stays standard,
 * and the block-size probe. Where this onnxruntime has no NCHWc kernels the comparisons are skipped (the probe's
 * own test still runs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../src/onnx/autodiff/grad.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { lowerConvsToNchwc, NCHWC_DOMAIN } from '../../src/onnx/nchwc.js';
import { nchwcBlockSize, OnnxSession, resolveConvPath } from '../../src/onnx/session.js';
import { Tensor } from '../../src/tensor.js';

const block = await nchwcBlockSize();
const skip = block === null ? 'this onnxruntime has no NCHWc kernels' : false;

/** Seeded uniform(−1, 1) values. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

const numel = (d: number[]) => d.reduce((p, q) => p * q, 1);

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  o?: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number };
  bias?: boolean;
}

/** Shapes relative to the block size B, so they exercise the same kernels on AVX2 (8) and AVX-512 (16). */
function cases(b: number): ConvCase[] {
  return [
    {
      name: '3×3 pad 1, C = M = 2B',
      x: [2, 2 * b, 6, 6],
      w: [2 * b, 2 * b, 3, 3],
      o: { pads: [1, 1, 1, 1] },
      bias: true,
    },
    {
      name: '3×3, C = 3B → M = B, no bias',
      x: [2, 3 * b, 5, 7],
      w: [b, 3 * b, 3, 3],
      o: { pads: [1, 1, 1, 1] },
    },
    { name: '1×1 (shortcut, attention projection)', x: [2, 2 * b, 4, 4], w: [b, 2 * b, 1, 1], bias: true },
    {
      name: 'stride 2 (downsample)',
      x: [2, b, 8, 8],
      w: [b, b, 3, 3],
      o: { strides: [2, 2], pads: [1, 1, 1, 1] },
      bias: true,
    },
    {
      name: 'NCHW input: C = 1 < B (conv_in)',
      x: [2, 1, 6, 6],
      w: [2 * b, 1, 3, 3],
      o: { pads: [1, 1, 1, 1] },
      bias: true,
    },
    { name: 'NCHW input: C = 3 < B', x: [2, 3, 5, 5], w: [b, 3, 3, 3], o: { pads: [1, 1, 1, 1] } },
    {
      name: 'M = 1 (conv_out: padded to a block)',
      x: [2, b, 6, 6],
      w: [1, b, 3, 3],
      o: { pads: [1, 1, 1, 1] },
      bias: true,
    },
    { name: 'M = 3, C < B', x: [2, 3, 4, 4], w: [3, 3, 3, 3], o: { pads: [1, 1, 1, 1] }, bias: true },
    {
      name: 'depthwise stride 2 4×4',
      x: [2, b, 8, 8],
      w: [b, 1, 4, 4],
      o: { strides: [2, 2], pads: [1, 1, 1, 1], group: b },
    },
    {
      name: 'batch = B (dw as one convolution with the batch blocked)',
      x: [b, b, 5, 5],
      w: [b, b, 3, 3],
      o: { pads: [1, 1, 1, 1] },
    },
    {
      name: 'batch = B, M = 12 (dyᵀ padded to the block)',
      x: [b, b, 4, 4],
      w: [12, b, 3, 3],
      o: { pads: [1, 1, 1, 1] },
      bias: true,
    },
    {
      name: 'asymmetric pads, dilation 2',
      x: [1, b, 9, 9],
      w: [b, b, 3, 3],
      o: { pads: [0, 1, 2, 1], dilations: [2, 2] },
    },
  ];
}

async function run(g: GraphBuilder, feeds: Record<string, Tensor>): Promise<Map<string, Tensor>> {
  const s = await OnnxSession.create(g.toModelBytes());
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return d / m;
}

describe('nchwcBlockSize / resolveConvPath', () => {
  it('probes a block size that is a multiple of 4 from 8 up (or null), once', async () => {
    const b = await nchwcBlockSize();
    assert.ok(b === null || (b >= 8 && b % 4 === 0), `block ${b}`);
    assert.equal(await nchwcBlockSize(), b);
  });

  it("resolves 'auto' to the blocked path exactly where the kernels exist", async () => {
    assert.deepEqual(await resolveConvPath('standard'), { path: 'standard', block: null });
    const auto = await resolveConvPath('auto');
    assert.deepEqual(auto, block === null ? { path: 'standard', block: null } : { path: 'blocked', block });
    // Other providers keep the standard ops.
    assert.deepEqual(await resolveConvPath('auto', ['cuda']), { path: 'standard', block: null });
    await assert.rejects(resolveConvPath('blocked', ['cuda']), /needs the CPU execution provider/);
    await assert.rejects(resolveConvPath('fast' as never), /expected 'auto', 'standard' or 'blocked'/);
  });
});

describe('lowerConvsToNchwc', { skip }, () => {
  const b = block ?? 8;

  for (const c of cases(b)) {
    it(`${c.name}: same output and gradients as the standard kernels`, async () => {
      // The blocked graph is differentiated for the blocked kernels (dw of a stride-1 conv as one convolution).
      const build = (nchwcBlock: number | null) => {
        const g = new GraphBuilder('t');
        const x = g.input('x', 'float32', c.x);
        const w = g.input('w', 'float32', c.w);
        const bias = c.bias ? g.input('b', 'float32', [c.w[0]]) : undefined;
        const y = g.conv(x, w, bias, c.o);
        g.output(y, 'y');
        // The backward's convolutions (dx of a stride-1 conv is a Conv with a computed weight) get blocked too.
        const v = g.input('v', 'float32', g.shape(y));
        const loss = g.op('ReduceSum', [g.mul(y, v)], { keepdims: { type: 'int', value: 0 } }, []);
        // (A grouped convolution has no weight gradient rule: the FIR kernels are constants.)
        const grouped = (c.o?.group ?? 1) > 1;
        const d = grad(g, loss, [x, ...(grouped ? [] : [w]), ...(bias ? [bias] : [])], { nchwcBlock });
        g.output(d.get(x)!, 'dx');
        if (!grouped) g.output(d.get(w)!, 'dw');
        return { g, yDims: g.shape(y) as number[] };
      };
      const std = build(null);
      const blk = build(b);
      const stats = lowerConvsToNchwc(blk.g, b);
      assert.ok(stats.lowered >= 1, `lowered ${stats.lowered}`);
      assert.ok(blk.g.nodes.some((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv'));
      const feeds: Record<string, Tensor> = {
        x: new Tensor('float32', values(numel(c.x), 1), c.x),
        w: new Tensor('float32', values(numel(c.w), 2), c.w),
        v: new Tensor('float32', values(numel(std.yDims), 3), std.yDims),
      };
      if (c.bias) feeds.b = new Tensor('float32', values(c.w[0], 4), [c.w[0]]);
      const a = await run(std.g, feeds);
      const r = await run(blk.g, feeds);
      for (const k of (c.o?.group ?? 1) > 1 ? ['y', 'dx'] : ['y', 'dx', 'dw']) {
        const e = maxRel(a.get(k)!.data as Float32Array, r.get(k)!.data as Float32Array);
        assert.ok(e <= 2e-6, `${k}: rel error ${e.toExponential(2)}`);
      }
    });
  }

  it('reorders a shared input once, chains blocked convolutions, and leaves constant weights to onnxruntime', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [1, 2 * b, 4, 4]);
    const w1 = g.input('w1', 'float32', [2 * b, 2 * b, 3, 3]);
    const w2 = g.input('w2', 'float32', [b, 2 * b, 1, 1]);
    const y1 = g.conv(x, w1, undefined, { pads: [1, 1, 1, 1] });
    const y2 = g.conv(x, w2);
    const y3 = g.conv(y1, w1, undefined, { pads: [1, 1, 1, 1] }); // reads y1's blocked twin
    const w4 = g.constFloat(values(b * 2 * b * 9, 5), [b, 2 * b, 3, 3]);
    const y4 = g.conv(y3, w4, undefined, { pads: [1, 1, 1, 1] }); // constant weight: left alone
    g.output(g.add(y2, y4), 'out');
    const stats = lowerConvsToNchwc(g, b);
    assert.deepEqual(stats, { lowered: 3, kept: 1 });
    const count = (op: string) => g.nodes.filter((n) => n.domain === NCHWC_DOMAIN && n.opType === op).length;
    assert.equal(count('ReorderInput'), 1, 'x reordered once; y1 feeds y3 blocked');
    // y1's NCHW form is read by nothing, so its ReorderOutput is dropped; y2 and y3 keep theirs.
    assert.equal(count('ReorderOutput'), 2);
    assert.equal(g.nodes.filter((n) => n.opType === 'Conv' && !n.domain).length, 1);
    // Weight w1 is reordered once for both of its convolutions.
    assert.equal(g.nodes.filter((n) => n.opType === 'Transpose').length, 2);
  });

  it('keeps unsupported convolutions standard', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [1, b + 4, 4, 4]); // channels neither < B nor a multiple of it
    const w = g.input('w', 'float32', [b, b + 4, 3, 3]);
    const xg = g.input('xg', 'float32', [1, 2 * b, 4, 4]);
    const wg = g.input('wg', 'float32', [2 * b, b, 3, 3]); // group 2: not depthwise
    g.output(g.conv(x, w), 'a');
    g.output(g.conv(xg, wg, undefined, { group: 2 }), 'c');
    assert.deepEqual(lowerConvsToNchwc(g, b), { lowered: 0, kept: 2 });
    assert.ok(g.nodes.every((n) => !n.domain));
    assert.throws(() => lowerConvsToNchwc(g, 6), /block size must be a multiple of 4/);
  });

  it('refuses to differentiate a lowered graph (autodiff runs first)', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [1, b, 4, 4]);
    const w = g.input('w', 'float32', [b, b, 3, 3]);
    const y = g.conv(x, w, undefined, { pads: [1, 1, 1, 1] });
    const loss = g.op('ReduceSum', [y], { keepdims: { type: 'int', value: 0 } }, []);
    g.output(loss);
    lowerConvsToNchwc(g, b);
    assert.throws(() => grad(g, loss, [w]), /no gradient rule for com\.microsoft\.nchwc:/);
  });
});
