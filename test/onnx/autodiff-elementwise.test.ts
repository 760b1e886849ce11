/** Gradient rules of the elementwise ops, against float64 finite differences (broadcasting included). */
import { describe, it } from 'node:test';
import { broadcast, checkGrad } from './autodiff-check.js';

const BINARY: Record<string, (p: number, q: number) => number> = {
  Add: (p, q) => p + q,
  Sub: (p, q) => p - q,
  Mul: (p, q) => p * q,
  Div: (p, q) => p / q,
};
const SHAPES: [number[], number[]][] = [
  [
    [2, 3, 4],
    [2, 3, 4],
  ],
  [
    [2, 3, 4],
    [3, 1],
  ],
  [
    [2, 1, 4],
    [3, 1],
  ],
  [[4], [2, 3, 4]],
  [[2, 3, 1, 1], []],
];

describe('autodiff: binary arithmetic with broadcasting', () => {
  for (const [op, f] of Object.entries(BINARY))
    for (const [ad, bd] of SHAPES)
      it(`${op} [${ad}] ∘ [${bd}]`, async () => {
        await checkGrad({
          inputs: { a: { dims: ad }, b: { dims: bd, offset: op === 'Div' ? 2 : 0 } },
          build: (g, x) => g.op(op, [x.a, x.b], {}, broadcastDims(ad, bd)),
          ref: (x) => broadcast(x.a, ad, x.b, bd, f),
        });
      });

  it('Mul of a value by itself (both operands one value)', async () => {
    await checkGrad({
      inputs: { a: { dims: [3, 4] } },
      build: (g, x) => g.mul(x.a, x.a),
      ref: (x) => x.a.map((v) => v * v),
    });
  });

  it('a constant operand gets no gradient, the other does', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 5] }, c: { dims: [5], constant: true } },
      build: (g, x) => g.div(g.sub(x.a, x.c), x.c),
      ref: (x) =>
        broadcast(
          broadcast(x.a, [2, 5], x.c, [5], (p, q) => p - q),
          [2, 5],
          x.c,
          [5],
          (p, q) => p / q,
        ),
    });
  });
});

function broadcastDims(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const pa = [...new Array(r - a.length).fill(1), ...a];
  const pb = [...new Array(r - b.length).fill(1), ...b];
  return pa.map((d, i) => Math.max(d, pb[i]));
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const erf = (x: number) => {
  // Abramowitz–Stegun 7.1.26 is too coarse for finite differences; use the series / continued fraction.
  const t = Math.abs(x);
  let s = 0;
  if (t < 3) {
    let term = t;
    for (let n = 0; n < 80; n++) {
      s += term / (2 * n + 1);
      term *= (-t * t) / (n + 1);
    }
    s *= 2 / Math.sqrt(Math.PI);
  } else s = 1;
  return Math.sign(x) * s;
};
const softplus = (v: number) => Math.log1p(Math.exp(v));

const UNARY: Record<string, { f: (v: number) => number; scale?: number; offset?: number }> = {
  Sigmoid: { f: sigmoid, scale: 3 },
  Tanh: { f: Math.tanh, scale: 2 },
  Relu: { f: (v) => Math.max(v, 0) },
  Sin: { f: Math.sin, scale: 3 },
  Cos: { f: Math.cos, scale: 3 },
  Softplus: { f: softplus, scale: 3 },
  Erf: { f: erf, scale: 2 },
  Exp: { f: Math.exp },
  Log: { f: Math.log, offset: 2 },
  Sqrt: { f: Math.sqrt, offset: 2 },
  Neg: { f: (v) => -v },
  Identity: { f: (v) => v },
};

describe('autodiff: unary ops', () => {
  for (const [op, u] of Object.entries(UNARY))
    it(op, async () => {
      await checkGrad({
        inputs: { a: { dims: [2, 3, 5], scale: u.scale, offset: u.offset } },
        build: (g, x) => g.op(op, [x.a], {}, [2, 3, 5]),
        ref: (x) => x.a.map(u.f),
      });
    });
});

describe('autodiff: activations as the UNet builds them', () => {
  it('SiLU x · sigmoid(x) (differentiated as one op)', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 4, 3], scale: 4 } },
      build: (g, x) => g.silu(x.a),
      ref: (x) => x.a.map((v) => v * sigmoid(v)),
    });
  });
  it('SiLU whose sigmoid output is also used elsewhere', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 4], scale: 3 } },
      build: (g, x) => {
        const s = g.sigmoid(x.a);
        return g.add(g.mul(x.a, s), g.mul(s, s));
      },
      ref: (x) => x.a.map((v) => v * sigmoid(v) + sigmoid(v) ** 2),
    });
  });
  it('exact GELU (Erf form)', async () => {
    await checkGrad({
      inputs: { a: { dims: [3, 5], scale: 3 } },
      build: (g, x) => g.gelu(x.a),
      ref: (x) => x.a.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
    });
  });
  it('mish x · tanh(softplus(x))', async () => {
    await checkGrad({
      inputs: { a: { dims: [3, 5], scale: 3 } },
      build: (g, x) => g.mul(x.a, g.tanh(g.softplus(x.a))),
      ref: (x) => x.a.map((v) => v * Math.tanh(softplus(v))),
    });
  });
});
