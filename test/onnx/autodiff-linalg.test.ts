/** Gradient rules of Conv, MatMul and Gemm, against float64 finite differences. */
import { describe, it } from 'node:test';
import { checkGrad, matmul, transpose } from './autodiff-check.js';

interface ConvOpts {
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
}

/** ONNX Conv (NCHW, OIHW) in float64. */
function convRef(
  x: Float64Array,
  xd: number[],
  w: Float64Array,
  wd: number[],
  b: Float64Array | null,
  o: ConvOpts,
): Float64Array {
  const [n, c, h, wi] = xd;
  const [m, cg, kh, kw] = wd;
  const [sh, sw] = o.strides ?? [1, 1];
  const [pt, pl, pb, pr] = o.pads ?? [0, 0, 0, 0];
  const [dh, dw] = o.dilations ?? [1, 1];
  const group = o.group ?? 1;
  const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((wi + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const out = new Float64Array(n * m * oh * ow);
  const mPerG = m / group;
  for (let bi = 0; bi < n; bi++)
    for (let oc = 0; oc < m; oc++) {
      const gi = Math.floor(oc / mPerG);
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let s = b ? b[oc] : 0;
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < kh; i++) {
              const iy = y * sh - pt + i * dh;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = xx * sw - pl + j * dw;
                if (ix < 0 || ix >= wi) continue;
                s += x[((bi * c + gi * cg + ci) * h + iy) * wi + ix] * w[((oc * cg + ci) * kh + i) * kw + j];
              }
            }
          out[((bi * m + oc) * oh + y) * ow + xx] = s;
        }
    }
  return out;
}

const CONVS: { name: string; x: number[]; w: number[]; o: ConvOpts; bias?: boolean; constW?: boolean }[] = [
  {
    name: '3×3 pad 1 (resnet conv)',
    x: [2, 3, 5, 5],
    w: [4, 3, 3, 3],
    o: { pads: [1, 1, 1, 1] },
    bias: true,
  },
  {
    name: '3×3 stride 2 pad 1',
    x: [2, 2, 6, 6],
    w: [3, 2, 3, 3],
    o: { strides: [2, 2], pads: [1, 1, 1, 1] },
    bias: true,
  },
  {
    // Fewer output than input channels: the weight gradient shifts dy instead of x.
    name: '3×3 pad 1, fewer outputs than inputs (decoder conv)',
    x: [2, 5, 5, 4],
    w: [2, 5, 3, 3],
    o: { pads: [1, 1, 1, 1] },
    bias: true,
  },
  {
    name: 'asymmetric pads, fewer outputs than inputs',
    x: [2, 4, 5, 6],
    w: [1, 4, 3, 2],
    o: { pads: [2, 0, 0, 1] },
  },
  { name: 'no padding, fewer outputs than inputs', x: [1, 3, 6, 5], w: [1, 3, 3, 3], o: {} },
  { name: '3×3 stride 2 pad 0 on odd size', x: [1, 2, 7, 7], w: [2, 2, 3, 3], o: { strides: [2, 2] } },
  { name: '1×1 (attention Linear, shortcut)', x: [2, 4, 3, 3], w: [5, 4, 1, 1], o: {}, bias: true },
  {
    name: 'asymmetric pads, dilation 2',
    x: [1, 2, 6, 5],
    w: [3, 2, 2, 3],
    o: { pads: [0, 1, 2, 1], dilations: [2, 1] },
  },
  {
    name: 'depthwise FIR 4×4 stride 2 (constant weights)',
    x: [2, 3, 6, 6],
    w: [3, 1, 4, 4],
    o: { strides: [2, 2], pads: [1, 1, 1, 1], group: 3 },
    constW: true,
  },
  {
    name: 'grouped, input gradient only',
    x: [1, 4, 4, 4],
    w: [6, 2, 3, 3],
    o: { pads: [1, 1, 1, 1], group: 2 },
    constW: true,
  },
];

describe('autodiff: Conv', () => {
  for (const c of CONVS)
    it(c.name, async () => {
      await checkGrad({
        inputs: {
          x: { dims: c.x },
          w: { dims: c.w, constant: c.constW },
          ...(c.bias ? { b: { dims: [c.w[0]] } } : {}),
        },
        build: (g, v) => g.conv(v.x, v.w, v.b, c.o),
        ref: (v) => convRef(v.x, c.x, v.w, c.w, v.b ?? null, c.o),
      });
    });
});

describe('autodiff: MatMul', () => {
  const CASES: [number[], number[]][] = [
    [
      [3, 4],
      [4, 5],
    ],
    [
      [2, 3, 4, 5],
      [2, 3, 5, 2],
    ],
    [
      [2, 3, 4, 5],
      [5, 2],
    ],
    [
      [1, 3, 4],
      [2, 1, 4, 3],
    ],
  ];
  for (const [ad, bd] of CASES)
    it(`[${ad}] × [${bd}]`, async () => {
      const outDims = (() => {
        const ba = ad.slice(0, -2);
        const bb = bd.slice(0, -2);
        const r = Math.max(ba.length, bb.length);
        const pa = [...new Array(r - ba.length).fill(1), ...ba];
        const pb = [...new Array(r - bb.length).fill(1), ...bb];
        return [...pa.map((d, i) => Math.max(d, pb[i])), ad[ad.length - 2], bd[bd.length - 1]];
      })();
      await checkGrad({
        inputs: { a: { dims: ad }, b: { dims: bd } },
        build: (g, x) => {
          const y = g.matmul(x.a, x.b);
          if (g.shape(y).join() !== outDims.join()) throw new Error('matmul shape');
          return y;
        },
        ref: (x) => matmul(x.a, ad, x.b, bd),
      });
    });
});

describe('autodiff: Gemm', () => {
  for (const transA of [0, 1])
    for (const transB of [0, 1])
      for (const cDims of [[5], [3, 1], [3, 5]])
        it(`transA ${transA} transB ${transB}, C [${cDims}], alpha 0.5, beta 2`, async () => {
          const ad = transA ? [4, 3] : [3, 4];
          const bd = transB ? [5, 4] : [4, 5];
          await checkGrad({
            inputs: { a: { dims: ad }, b: { dims: bd }, c: { dims: cDims } },
            build: (g, x) =>
              g.op(
                'Gemm',
                [x.a, x.b, x.c],
                {
                  transA: { type: 'int', value: transA },
                  transB: { type: 'int', value: transB },
                  alpha: { type: 'float', value: 0.5 },
                  beta: { type: 'float', value: 2 },
                },
                [3, 5],
              ),
            ref: (x) => {
              const a = transA ? transpose(x.a, ad, [1, 0]) : x.a;
              const b = transB ? transpose(x.b, bd, [1, 0]) : x.b;
              const p = matmul(a, [3, 4], b, [4, 5]);
              return p.map((v, i) => {
                const [r, col] = [Math.floor(i / 5), i % 5];
                const cv = cDims.length === 1 ? x.c[col] : cDims[1] === 1 ? x.c[r] : x.c[i];
                return 0.5 * v + 2 * cv;
              });
            },
          });
        });

  it('Linear as GraphBuilder.linear (transB, bias)', async () => {
    await checkGrad({
      inputs: { a: { dims: [3, 4] }, w: { dims: [6, 4] }, b: { dims: [6] } },
      build: (g, x) => g.linear(x.a, x.w, x.b),
      ref: (x) => matmul(x.a, [3, 4], transpose(x.w, [6, 4], [1, 0]), [4, 6]).map((v, i) => v + x.b[i % 6]),
    });
  });
});
