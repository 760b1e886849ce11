/** The autodiff engine: fan-out accumulation, stop-gradients, unreached values, free batch dims, errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../src/onnx/autodiff/grad.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { OnnxSession } from '../../src/onnx/session.js';
import { Tensor } from '../../src/tensor.js';
import { checkGrad } from './autodiff-check.js';

async function run(g: GraphBuilder, feeds: Record<string, Tensor>): Promise<Map<string, Tensor>> {
  const s = await OnnxSession.create(g.toModelBytes(), { intraOpThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

describe('autodiff engine', () => {
  it('sums the gradients of a value that fans out to several consumers', async () => {
    // y = sin(a) · a + a / b + a: a reaches y along four paths.
    await checkGrad({
      inputs: { a: { dims: [3, 4] }, b: { dims: [4], offset: 2 } },
      build: (g, x) => g.add(g.add(g.mul(g.sin(x.a), x.a), g.div(x.a, x.b)), x.a),
      ref: (x) => x.a.map((v, i) => Math.sin(v) * v + v / x.b[i % 4] + v),
    });
  });

  it('returns zeros for a value the loss does not reach, and stops at int64 values', async () => {
    const g = new GraphBuilder('t');
    const a = g.input('a', 'float32', [2, 3]);
    const unused = g.input('u', 'float32', [4]);
    const idx = g.input('i', 'int64', [2]);
    // Reshape's shape input is int64, Gather's indices too: neither gets a gradient.
    const y = g.gather(g.reshape(a, [3, 2]), idx);
    const loss = g.op('ReduceSum', [y, g.constInt64([0, 1])], { keepdims: { type: 'int', value: 0 } }, []);
    const grads = grad(g, loss, [a, unused, idx]);
    g.output(grads.get(a)!, 'da');
    g.output(grads.get(unused)!, 'du');
    const out = await run(g, {
      a: new Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]),
      u: new Tensor('float32', new Float32Array(4).fill(1), [4]),
      i: new Tensor('int64', BigInt64Array.from([2n, 2n]), [2]),
    });
    assert.deepEqual(Array.from(out.get('da')!.data as Float32Array), [0, 0, 0, 0, 2, 2]);
    assert.deepEqual(Array.from(out.get('du')!.data as Float32Array), [0, 0, 0, 0]);
    assert.equal(g.info(grads.get(idx)!).dtype, 'float32'); // a zero placeholder, never an int gradient path
  });

  it('differentiates graphs with a free batch dimension', async () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', ['batch', 3, 2, 2]);
    const w = g.input('w', 'float32', [4, 3, 1, 1]);
    const y = g.reshape(g.silu(g.conv(x, w)), [0, -1]); // (batch, 16)
    const loss = g.op('ReduceSum', [y, g.constInt64([0, 1])], { keepdims: { type: 'int', value: 0 } }, []);
    const grads = grad(g, loss, [x, w]);
    g.output(grads.get(x)!, 'dx');
    g.output(grads.get(w)!, 'dw');
    const xv = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i));
    const wv = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i));
    const out = await run(g, {
      x: new Tensor('float32', xv, [2, 3, 2, 2]),
      w: new Tensor('float32', wv, [4, 3, 1, 1]),
    });
    // d/dx Σ silu(Σ_c w x) by hand.
    const dsilu = (v: number) => {
      const s = 1 / (1 + Math.exp(-v));
      return s * (1 + v * (1 - s));
    };
    const dx = new Float64Array(24);
    const dw = new Float64Array(12);
    for (let n = 0; n < 2; n++)
      for (let o = 0; o < 4; o++)
        for (let p = 0; p < 4; p++) {
          let v = 0;
          for (let c = 0; c < 3; c++) v += wv[o * 3 + c] * xv[n * 12 + c * 4 + p];
          for (let c = 0; c < 3; c++) {
            dx[n * 12 + c * 4 + p] += dsilu(v) * wv[o * 3 + c];
            dw[o * 3 + c] += dsilu(v) * xv[n * 12 + c * 4 + p];
          }
        }
    const close = (a: Float32Array, b: Float64Array) =>
      a.every((v, i) => Math.abs(v - b[i]) <= 1e-5 * (1 + Math.abs(b[i])));
    assert.ok(close(out.get('dx')!.data as Float32Array, dx), 'dx');
    assert.ok(close(out.get('dw')!.data as Float32Array, dw), 'dw');
  });

  it('gives the adjoint of an intermediate value asked for (no SiLU fusion hides it)', async () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [4]);
    const s = g.sigmoid(x);
    const y = g.mul(x, s);
    const v = [0.5, -1, 2, 1.5];
    const loss = g.op(
      'ReduceSum',
      [g.mul(y, g.constFloat(v)), g.constInt64([0])],
      { keepdims: { type: 'int', value: 0 } },
      [],
    );
    const grads = grad(g, loss, [x, s]);
    g.output(grads.get(x)!, 'dx');
    g.output(grads.get(s)!, 'ds');
    const xv = [-2, -0.5, 0.3, 1.7];
    const out = await run(g, { x: new Tensor('float32', Float32Array.from(xv), [4]) });
    const sig = (t: number) => 1 / (1 + Math.exp(-t));
    const dx = out.get('dx')!.data as Float32Array;
    const ds = out.get('ds')!.data as Float32Array;
    xv.forEach((t, i) => {
      assert.ok(Math.abs(ds[i] - t * v[i]) < 1e-6, `ds[${i}]`);
      assert.ok(Math.abs(dx[i] - v[i] * sig(t) * (1 + t * (1 - sig(t)))) < 1e-6, `dx[${i}]`);
    });
  });

  it('gives the same conv gradients with a free batch dim as with a static one (both dw layouts)', async () => {
    const grads = async (batch: number | string) => {
      const g = new GraphBuilder('t');
      const x = g.input('x', 'float32', [batch, 3, 5, 5]);
      const w = g.input('w', 'float32', [4, 3, 3, 3]);
      const y = g.conv(x, w, undefined, { pads: [1, 1, 1, 1], strides: [2, 2] });
      const loss = g.op('ReduceSumSquare', [y], { keepdims: { type: 'int', value: 0 } }, []);
      const d = grad(g, loss, [x, w]);
      g.output(d.get(x)!, 'dx');
      g.output(d.get(w)!, 'dw');
      const xv = Float32Array.from({ length: 150 }, (_, i) => Math.sin(i * 0.7));
      const wv = Float32Array.from({ length: 108 }, (_, i) => Math.cos(i * 0.3));
      const out = await run(g, {
        x: new Tensor('float32', xv, [2, 3, 5, 5]),
        w: new Tensor('float32', wv, [4, 3, 3, 3]),
      });
      return [out.get('dx')!.data, out.get('dw')!.data] as Float32Array[];
    };
    const [a, b] = [await grads(2), await grads('batch')];
    for (let k = 0; k < 2; k++)
      assert.ok(
        a[k].every((v, i) => Math.abs(v - b[k][i]) <= 1e-5 * (1 + Math.abs(v))),
        k ? 'dw' : 'dx',
      );
  });

  it('a small classifier CNN: Conv → Relu → MaxPool → Gemm → LogSoftmax cross-entropy', async () => {
    // x (2, 1, 4, 4), conv 2×1×3×3 pad 1, relu, maxpool 2 → (2, 2, 2, 2) → (2, 8) → Gemm (3, 8) → log p.
    const labels = [2, 0];
    await checkGrad({
      inputs: { x: { dims: [2, 1, 4, 4] }, k: { dims: [2, 1, 3, 3] }, w: { dims: [3, 8] }, b: { dims: [3] } },
      build: (g, v) => {
        const h = g.relu(g.conv(v.x, v.k, undefined, { pads: [1, 1, 1, 1] }));
        const p = g.op(
          'MaxPool',
          [h],
          { kernel_shape: { type: 'ints', value: [2, 2] }, strides: { type: 'ints', value: [2, 2] } },
          [2, 2, 2, 2],
        );
        const logits = g.linear(g.reshape(p, [2, 8]), v.w, v.b);
        const logp = g.op('LogSoftmax', [logits], { axis: { type: 'int', value: 1 } }, [2, 3]);
        const onehot = g.constFloat(Float32Array.from([0, 0, 1, 1, 0, 0]), [2, 3]);
        const nll = g.op(
          'ReduceMean',
          [g.mul(logp, onehot)],
          { axes: { type: 'ints', value: [0, 1] }, keepdims: { type: 'int', value: 0 } },
          [],
        );
        return g.op('Neg', [nll], {}, []);
      },
      ref: (v) => {
        const out = new Float64Array(1);
        let total = 0;
        for (let n = 0; n < 2; n++) {
          const pooled: number[] = [];
          for (let o = 0; o < 2; o++) {
            const conv = new Float64Array(16);
            for (let i = 0; i < 4; i++)
              for (let j = 0; j < 4; j++) {
                let acc = 0;
                for (let a = 0; a < 3; a++)
                  for (let c = 0; c < 3; c++) {
                    const [y, xx] = [i + a - 1, j + c - 1];
                    if (y >= 0 && y < 4 && xx >= 0 && xx < 4)
                      acc += v.x[n * 16 + y * 4 + xx] * v.k[o * 9 + a * 3 + c];
                  }
                conv[i * 4 + j] = Math.max(acc, 0);
              }
            for (let i = 0; i < 2; i++)
              for (let j = 0; j < 2; j++)
                pooled.push(
                  Math.max(
                    conv[8 * i + 2 * j],
                    conv[8 * i + 2 * j + 1],
                    conv[8 * i + 2 * j + 4],
                    conv[8 * i + 2 * j + 5],
                  ),
                );
          }
          const logits = [0, 1, 2].map(
            (r) => v.b[r] + pooled.reduce((s2, p, q) => s2 + p * v.w[r * 8 + q], 0),
          );
          const m = Math.max(...logits);
          const lse = m + Math.log(logits.reduce((s2, l) => s2 + Math.exp(l - m), 0));
          total += logits[labels[n]] - lse;
        }
        out[0] = -total / 6; // ReduceMean over the (2, 3) product
        return out;
      },
    });
  });

  it('gives the same GroupNorm gradients (composite adjoint) with a free batch dim as with a static one', async () => {
    for (const groups of [2, 4]) {
      const grads = async (batch: number | string) => {
        const g = new GraphBuilder('t');
        const x = g.input('x', 'float32', [batch, 4, 3, 3]);
        const gamma = g.input('gamma', 'float32', [4]);
        const beta = g.input('beta', 'float32', [4]);
        const y = g.composite('GroupNorm', [x, gamma, beta], { groups, epsilon: 1e-5 }, () => {
          const n = g.instanceNorm(
            g.reshape(x, [0, groups, -1]),
            g.constFloat(new Float32Array(groups).fill(1)),
            g.constFloat(new Float32Array(groups)),
            1e-5,
          );
          const normalized = g.reshape(n, [0, 4, 3, 3]);
          return { output: g.channelAffine(normalized, gamma, beta), values: { normalized } };
        });
        const v = g.constFloat(
          Float32Array.from({ length: 36 }, (_, i) => Math.cos(i * 1.3)),
          [1, 4, 3, 3],
        );
        const loss = g.op('ReduceSumSquare', [g.mul(y, v)], { keepdims: { type: 'int', value: 0 } }, []);
        const d = grad(g, loss, [x, gamma, beta]);
        for (const [k, n] of [
          ['dx', x],
          ['dgamma', gamma],
          ['dbeta', beta],
        ])
          g.output(d.get(n)!, k);
        const out = await run(g, {
          x: new Tensor(
            'float32',
            Float32Array.from({ length: 72 }, (_, i) => Math.sin(i * 0.7) + i / 72),
            [2, 4, 3, 3],
          ),
          gamma: new Tensor('float32', Float32Array.from([0.5, 1.5, -1, 2]), [4]),
          beta: new Tensor('float32', Float32Array.from([0.1, 0, 0.3, -0.2]), [4]),
        });
        return ['dx', 'dgamma', 'dbeta'].map((k) => out.get(k)!.data as Float32Array);
      };
      const [a, b] = [await grads(2), await grads('batch')];
      for (let k = 0; k < 3; k++)
        assert.ok(
          a[k].every((v, i) => Math.abs(v - b[k][i]) <= 1e-5 * (1 + Math.abs(v))),
          `${groups} groups: ${['dx', 'dgamma', 'dbeta'][k]}`,
        );
    }
  });

  it('differentiates a tagged composite by its adjoint, and names a composite without one', () => {
    const g = new GraphBuilder('t');
    const a = g.input('a', 'float32', [3]);
    const y = g.silu(a);
    const loss = g.op('ReduceSum', [y], { keepdims: { type: 'int', value: 0 } }, []);
    grad(g, loss, [a]);
    assert.ok(
      g.nodes.some((n) => n.name.startsWith('grad.SiLU/')),
      'the SiLU adjoint',
    );
    assert.ok(!g.nodes.some((n) => n.name.startsWith('grad/') && n.opType === 'Sigmoid'));
    const h = new GraphBuilder('t');
    const b = h.input('b', 'float32', [3]);
    const z = h.composite('Swoosh', [b], {}, () => ({ output: h.tanh(b) }));
    assert.throws(() => grad(h, z, [b]), /no gradient rule for the composite Swoosh \(Swoosh_\d+\)/);
  });

  it('names an op without a rule', () => {
    const g = new GraphBuilder('t');
    const a = g.input('a', 'float32', [3]);
    const y = g.op('HardSwish', [a], {}, [3]);
    assert.throws(() => grad(g, y, [a]), /no gradient rule for HardSwish/);
  });
});
