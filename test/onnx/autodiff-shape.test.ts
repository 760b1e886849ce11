/** Gradient rules of the data-movement ops and reductions, against float64 finite differences. */
import { describe, it } from 'node:test';
import { checkGrad, reduce, transpose } from './autodiff-check.js';

describe('autodiff: data movement', () => {
  it('Reshape (with a fan-out of the input)', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 3, 4] } },
      build: (g, x) => g.add(g.reshape(g.reshape(x.a, [6, 4]), [2, 3, 4]), x.a),
      ref: (x) => x.a.map((v) => 2 * v),
    });
  });
  it('Transpose', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 3, 4] } },
      build: (g, x) => g.transpose(x.a, [2, 0, 1]),
      ref: (x) => transpose(x.a, [2, 3, 4], [2, 0, 1]),
    });
  });
  it('Unsqueeze', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 3] } },
      build: (g, x) => g.unsqueeze(x.a, [1, 3]),
      ref: (x) => x.a.slice(),
    });
  });
  it('Concat on axis 1 of three inputs', async () => {
    await checkGrad({
      inputs: { a: { dims: [2, 1, 3] }, b: { dims: [2, 2, 3] }, c: { dims: [2, 3, 3] } },
      build: (g, x) => g.concat([x.a, x.b, x.c], 1),
      ref: (x) => {
        const out = new Float64Array(2 * 6 * 3);
        for (let n = 0; n < 2; n++) {
          out.set(x.a.subarray(n * 3, n * 3 + 3), n * 18);
          out.set(x.b.subarray(n * 6, n * 6 + 6), n * 18 + 3);
          out.set(x.c.subarray(n * 9, n * 9 + 9), n * 18 + 9);
        }
        return out;
      },
    });
  });
  it('Slice with a negative end', async () => {
    await checkGrad({
      inputs: { a: { dims: [3, 6, 4] } },
      build: (g, x) => g.slice(x.a, [1, 0], [-1, 3], [1, 2]),
      ref: (x) => {
        const out: number[] = [];
        for (let i = 0; i < 3; i++)
          for (let j = 1; j < 5; j++) for (let k = 0; k < 3; k++) out.push(x.a[i * 24 + j * 4 + k]);
        return Float64Array.from(out);
      },
    });
  });
  it('Pad (constant, bottom-right, as Downsample2D padding 0)', async () => {
    await checkGrad({
      inputs: { a: { dims: [1, 2, 3, 3] } },
      build: (g, x) => g.pad(x.a, [0, 0, 1, 0, 0, 0, 1, 2], 0.5),
      ref: (x) => {
        const out = new Float64Array(2 * 5 * 5).fill(0.5);
        for (let c = 0; c < 2; c++)
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) out[c * 25 + (i + 1) * 5 + j] = x.a[c * 9 + i * 3 + j];
        return out;
      },
    });
  });
  it('Gather rows with repeated indices (embedding table)', async () => {
    const idx = [2, 0, 2, 4];
    await checkGrad({
      inputs: { t: { dims: [5, 3] }, i: { dims: [4], data: idx, int64: true } },
      build: (g, x) => g.gather(x.t, x.i),
      ref: (x) => Float64Array.from(idx.flatMap((r) => Array.from(x.t.subarray(r * 3, r * 3 + 3)))),
    });
  });
});

describe('autodiff: reductions', () => {
  const dims = [2, 3, 4];
  for (const [op, axes, keep] of [
    ['ReduceSum', [1], 1],
    ['ReduceSum', [0, 2], 0],
    ['ReduceMean', [2], 1],
    ['ReduceMean', [0, 1, 2], 0],
    ['ReduceSumSquare', [1, 2], 0],
  ] as [string, number[], number][])
    it(`${op} over [${axes}] keepdims ${keep}`, async () => {
      const n = axes.reduce((p, a) => p * dims[a], 1);
      await checkGrad({
        inputs: { a: { dims } },
        build: (g, x) => {
          const out = keep
            ? dims.map((d, i) => (axes.includes(i) ? 1 : d))
            : dims.filter((_, i) => !axes.includes(i));
          const attrs = { keepdims: { type: 'int' as const, value: keep } };
          return op === 'ReduceSum'
            ? g.op(op, [x.a, g.constInt64(axes)], attrs, out)
            : g.op(op, [x.a], { ...attrs, axes: { type: 'ints', value: axes } }, out);
        },
        ref: (x) => {
          if (op === 'ReduceSumSquare') return reduce(x.a, dims, axes, (s, v) => s + v * v);
          const s = reduce(x.a, dims, axes);
          return op === 'ReduceMean' ? s.map((v) => v / n) : s;
        },
      });
    });
});
