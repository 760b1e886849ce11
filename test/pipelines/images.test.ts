import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import {
  gridShape,
  makeImageGrid,
  numpyToPil,
  PipelineImage,
  toClampedNHWC,
} from '../../src/pipelines/images.js';
import { type Tensor, tensor } from '../../src/tensor.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/pipeline/${name}`, import.meta.url));

describe('numpyToPil', () => {
  it('rounds (x·255) computed in float32, half to even, as numpy does', () => {
    // Inputs (float32) and numpy 1.24's (x * 255).round().astype("uint8").
    const x = [
      0,
      1,
      0.5,
      0.25,
      0.75,
      126.5 / 255,
      1.5 / 255,
      2.5 / 255,
      0.0019607844,
      0.99999994,
      1e-8,
      0.3,
      0.7,
    ];
    const expected = [0, 255, 128, 64, 191, 126, 2, 2, 0, 255, 0, 76, 178];
    const padded = [...x, 0, 0]; // 15 values = 5 RGB pixels
    const [image] = numpyToPil(tensor(padded, [1, 1, 5, 3]));
    assert.deepEqual([...image.data.subarray(0, x.length)], expected);
    assert.equal(image.width, 5);
    assert.equal(image.height, 1);
  });

  it('matches diffusers numpy_to_pil on the stored pipeline output', async () => {
    const f = await loadSafetensors(fixture('tiny-ncsnpp_N10_b1_generator0.safetensors'));
    const images = f.tensors.get('images') as Tensor<'float32'>;
    const pil = f.tensors.get('images_pil_uint8')!;
    const [image] = numpyToPil(images);
    assert.equal(image.width, 32);
    assert.equal(image.height, 32);
    assert.deepEqual(image.data, pil.data);
  });

  it('rejects arrays that are not (B, H, W, 3)', () => {
    assert.throws(() => numpyToPil(tensor(new Float32Array(8), [1, 2, 2, 2])), /\(B, H, W, 3\)/);
  });
});

describe('toClampedNHWC', () => {
  it('clamps to [0, 1] and moves channels last', () => {
    // (1, 3, 1, 2): channel planes [r0 r1] [g0 g1] [b0 b1]
    const out = toClampedNHWC(tensor([-1, 0.25, 0.5, 2, 0.75, Number.NaN], [1, 3, 1, 2]));
    assert.deepEqual(out.dims, [1, 1, 2, 3]);
    assert.deepEqual([...out.data], [0, 0.5, 0.75, 0.25, 1, Number.NaN]);
  });
});

describe('makeImageGrid', () => {
  const solid = (v: number) => new PipelineImage(2, 1, new Uint8Array(6).fill(v));

  it('tiles row-major and leaves empty cells black', () => {
    const grid = makeImageGrid([solid(1), solid(2), solid(3)], 2, 2);
    assert.equal(grid.width, 4);
    assert.equal(grid.height, 2);
    assert.deepEqual(
      [...grid.data],
      [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0],
    );
  });

  it('picks a near-square shape', () => {
    assert.deepEqual(gridShape(1), { rows: 1, cols: 1 });
    assert.deepEqual(gridShape(2), { rows: 1, cols: 2 });
    assert.deepEqual(gridShape(5), { rows: 2, cols: 3 });
    assert.deepEqual(gridShape(9), { rows: 3, cols: 3 });
  });

  it('rejects grids too small and mixed sizes', () => {
    assert.throws(() => makeImageGrid([solid(1), solid(2)], 1, 1), /cannot hold 2 images/);
    assert.throws(
      () => makeImageGrid([solid(1), new PipelineImage(1, 1, new Uint8Array(3))], 1, 2),
      /same size/,
    );
  });
});

describe('PipelineImage', () => {
  it('checks that the data fits the size', () => {
    assert.throws(() => new PipelineImage(2, 2, new Uint8Array(11)), /needs 12 bytes, got 11/);
  });
});
