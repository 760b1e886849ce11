/**
 * The ONNX protobuf encoder and graph IR: wire-format bytes, a decode of everything encoded, shape inference,
 * FLOP counting, and onnxruntime accepting and running what the builder writes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countFlops } from '../../src/onnx/flops.js';
import { GraphBuilder, IR_VERSION, OPSET } from '../../src/onnx/graph.js';
import { decodeFields, decodeModel, encodeModel, ProtoWriter } from '../../src/onnx/proto.js';
import { checkExecutionProviders, OnnxSession } from '../../src/onnx/session.js';
import { Tensor } from '../../src/tensor.js';

describe('ProtoWriter wire format', () => {
  it('writes varints, negative int64 as 10 bytes, fixed32 floats and length-delimited fields', () => {
    assert.deepEqual([...new ProtoWriter().int(1, 300).finish()], [0x08, 0xac, 0x02]);
    assert.deepEqual(
      [...new ProtoWriter().int(2, -1).finish()],
      [0x10, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1],
    );
    assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [0x15, 0, 0, 0x80, 0x3f]);
    assert.deepEqual([...new ProtoWriter().string(4, 'ab').finish()], [0x22, 2, 0x61, 0x62]);
    const nested = new ProtoWriter().message(7, new ProtoWriter().int(1, 5));
    assert.deepEqual([...nested.finish()], [0x3a, 2, 0x08, 5]);
    assert.deepEqual([...new ProtoWriter().packedInts(8, [1, 2, 300]).finish()], [0x42, 4, 1, 2, 0xac, 0x02]);
  });

  it('keeps large byte fields intact through nesting and decodes them back', () => {
    const big = new Uint8Array(5000).map((_, i) => i % 251);
    const inner = new ProtoWriter().int(1, 7).bytes(9, big).int(2, 3);
    const outer = new ProtoWriter().string(1, 'x').message(5, inner).finish();
    const f = decodeFields(outer);
    const g = decodeFields(f.get(5)![0] as Uint8Array);
    assert.deepEqual(g.get(9)![0], big);
    assert.equal(g.get(1)![0], 7n);
    assert.equal(g.get(2)![0], 3n);
  });
});

describe('ONNX ModelProto encoding', () => {
  it('decodes to exactly the graph that was encoded', () => {
    const w = new Float32Array([1, 2, 3, 4]);
    const bytes = encodeModel({
      irVersion: 8,
      opsetVersion: 17,
      producerName: 'test',
      graph: {
        name: 'g',
        nodes: [
          {
            opType: 'Conv',
            name: 'conv0',
            inputs: ['x', 'w'],
            outputs: ['y'],
            attributes: {
              pads: { type: 'ints', value: [1, 1, 1, 1] },
              group: { type: 'int', value: -2 },
              epsilon: { type: 'float', value: 0.5 },
              mode: { type: 'string', value: 'linear' },
              scales: { type: 'floats', value: [1, 2.5] },
            },
          },
        ],
        initializers: [{ name: 'w', dtype: 'float32', dims: [1, 1, 2, 2], data: new Uint8Array(w.buffer) }],
        inputs: [{ name: 'x', dtype: 'float32', dims: ['batch', 1, 4, 4] }],
        outputs: [{ name: 'y', dtype: 'float32', dims: ['batch', 1, 5, 5] }],
      },
    });
    const m = decodeModel(bytes);
    assert.equal(m.irVersion, 8);
    assert.equal(m.producerName, 'test');
    assert.deepEqual(m.opsetImport, [{ domain: '', version: 17 }]);
    assert.equal(m.graph.name, 'g');
    const n = m.graph.nodes[0];
    assert.equal(n.opType, 'Conv');
    assert.equal(n.name, 'conv0');
    assert.deepEqual(n.inputs, ['x', 'w']);
    assert.deepEqual(n.outputs, ['y']);
    assert.deepEqual(n.attributes.pads, { name: 'pads', type: 7, ints: [1, 1, 1, 1] });
    assert.deepEqual(n.attributes.group, { name: 'group', type: 2, i: -2 });
    assert.deepEqual(n.attributes.epsilon, { name: 'epsilon', type: 1, f: 0.5 });
    assert.deepEqual(n.attributes.mode, { name: 'mode', type: 3, s: 'linear' });
    assert.deepEqual(n.attributes.scales, { name: 'scales', type: 6, floats: [1, 2.5] });
    const init = m.graph.initializers[0];
    assert.deepEqual([init.name, init.dataType, init.dims], ['w', 1, [1, 1, 2, 2]]);
    assert.deepEqual(new Float32Array(init.rawData.slice().buffer), w);
    assert.deepEqual(m.graph.inputs, [{ name: 'x', elemType: 1, dims: ['batch', 1, 4, 4] }]);
    assert.deepEqual(m.graph.outputs, [{ name: 'y', elemType: 1, dims: ['batch', 1, 5, 5] }]);
  });
});

describe('GraphBuilder', () => {
  it('infers shapes, counts FLOPs and serialises a graph onnxruntime runs', async () => {
    const g = new GraphBuilder('tiny');
    const x = g.input('x', 'float32', ['batch', 2, 4, 4]);
    const w = g.constFloat(
      Float32Array.from({ length: 3 * 2 * 9 }, (_, i) => (i % 5) - 2),
      [3, 2, 3, 3],
    );
    const b = g.constFloat([0.5, -1, 2]);
    const conv = g.conv(x, w, b, { pads: [1, 1, 1, 1] });
    assert.deepEqual(g.shape(conv), ['batch', 3, 4, 4]);
    const flat = g.reshape(conv, [0, 3, -1]);
    assert.deepEqual(g.shape(flat), ['batch', 3, 16]);
    const mm = g.matmul(g.transpose(flat, [0, 2, 1]), flat); // (B, 16, 16)
    assert.deepEqual(g.shape(mm), ['batch', 16, 16]);
    g.output(g.silu(conv), 'y');
    g.output(mm, 'gram');
    // conv: 2·(3·4·4 outputs)·(2·3·3) ; matmul: 2·16·16·3
    assert.equal(countFlops(g, 2), 2 * (2 * 48 * 18 + 2 * 256 * 3));

    const bytes = g.toModelBytes();
    const decoded = decodeModel(bytes);
    assert.equal(decoded.irVersion, IR_VERSION);
    assert.equal(decoded.opsetImport[0].version, OPSET);
    assert.deepEqual(
      decoded.graph.nodes.map((n) => n.opType),
      ['Conv', 'Reshape', 'Transpose', 'MatMul', 'Sigmoid', 'Mul', 'Identity', 'Identity'],
    );

    const s = await OnnxSession.create(bytes, { intraOpThreads: 1 });
    try {
      const xv = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
      const out = await s.run({ x: new Tensor('float32', xv, [1, 2, 4, 4]) });
      const y = out.get('y')!.data as Float32Array;
      // Direct conv + SiLU at one interior and one corner pixel of each output channel.
      for (const [oc, r, c] of [
        [0, 1, 2],
        [2, 0, 0],
        [1, 3, 3],
      ]) {
        let acc = [0.5, -1, 2][oc];
        for (let ic = 0; ic < 2; ic++)
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              const rr = r + i - 1;
              const cc = c + j - 1;
              if (rr < 0 || rr > 3 || cc < 0 || cc > 3) continue;
              acc += xv[ic * 16 + rr * 4 + cc] * (((oc * 18 + ic * 9 + i * 3 + j) % 5) - 2);
            }
        const want = acc / (1 + Math.exp(-acc));
        assert.ok(Math.abs(y[oc * 16 + r * 4 + c] - want) < 1e-5, `pixel ${oc},${r},${c}`);
      }
      assert.deepEqual(out.get('gram')!.dims, [1, 16, 16]);
    } finally {
      await s.release();
    }
  });

  it('rejects shape errors at build time, naming the shapes', () => {
    const g = new GraphBuilder();
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [4, 5]);
    assert.throws(() => g.matmul(a, b), /\[2, 3\] × \[4, 5\]/);
    assert.throws(() => g.add(a, b), /cannot broadcast \[2, 3\] with \[4, 5\]/);
    assert.throws(() => g.reshape(a, [4, 2]), /\[2, 3\] to \[4, 2\]/);
    assert.throws(() => g.input('a', 'float32', [1]), /duplicate value name "a"/);
  });

  it('refuses to serialise a shape-only build', () => {
    const g = new GraphBuilder();
    g.initializer('w', 'float32', [2]);
    assert.throws(() => g.toModelBytes(), /initializer "w" has no data/);
  });
});

describe('OnnxSession providers', () => {
  it('explains when a provider is missing from this onnxruntime build', () => {
    assert.throws(() => checkExecutionProviders(['tpu']), /unknown provider "tpu"/);
    checkExecutionProviders(['cpu']);
  });
});
