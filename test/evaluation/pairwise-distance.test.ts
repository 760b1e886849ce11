import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxPairwiseDistance } from '../../src/evaluation/pairwise-distance.js';
import { Generator, rand } from '../../src/random/index.js';

/** Brute force in float64: the largest distance and the first pair (i < j) attaining it. */
function bruteForce(x: Float32Array, dim: number): { distance: number; i: number; j: number } {
  const n = x.length / dim;
  let best = -1;
  let bi = -1;
  let bj = -1;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (x[i * dim + k] - x[j * dim + k]) ** 2;
      if (s > best) [best, bi, bj] = [s, i, j];
    }
  return { distance: Math.sqrt(best), i: bi, j: bj };
}

describe('maxPairwiseDistance', () => {
  it('matches brute force on random data across several chunks (and a ragged last one)', async () => {
    const dim = 20;
    const x = rand([300, dim], { generator: new Generator().manualSeed(11) }).data;
    const want = bruteForce(x, dim);
    const progress: [number, number][] = [];
    // 300 rows in chunks of 64: 5 chunks (the last one 44 rows), 15 chunk pairs, 5 of them diagonal.
    const got = await maxPairwiseDistance(x, dim, {
      chunkRows: 64,
      onProgress: (d, t) => progress.push([d, t]),
    });
    assert.ok(Math.abs(got.distance - want.distance) < 1e-12, `${got.distance} vs ${want.distance}`);
    assert.deepEqual([got.i, got.j], [want.i, want.j]);
    assert.deepEqual(progress[0], [0, 15]);
    assert.deepEqual(progress.at(-1), [15, 15]);
    // The same answer with one chunk and with chunks of one row.
    for (const chunkRows of [1000, 1, 7]) {
      const other = await maxPairwiseDistance(x, dim, { chunkRows });
      assert.equal(other.distance, got.distance, `chunkRows ${chunkRows}`);
      assert.deepEqual([other.i, other.j], [got.i, got.j], `chunkRows ${chunkRows}`);
    }
  });

  it('finds a planted pair, in the same chunk and in different chunks', async () => {
    const dim = 16;
    const x = rand([200, dim], { generator: new Generator().manualSeed(5) }).data;
    // Shrink everything towards 0.5, then plant two opposite corners of the cube.
    for (let k = 0; k < x.length; k++) x[k] = 0.25 + 0.5 * x[k];
    for (const [i, j] of [
      [37, 151],
      [40, 44],
    ]) {
      const y = x.slice();
      y.fill(0, i * dim, (i + 1) * dim);
      y.fill(1, j * dim, (j + 1) * dim);
      const got = await maxPairwiseDistance(y, dim, { chunkRows: 32 });
      assert.deepEqual([got.i, got.j], [i, j]);
      assert.equal(got.distance, 4); // √16
    }
  });

  it('resolves a near-tie that float32 cannot order', async () => {
    // Row 0 is black; rows 2 and 3 are white, but row 2 has one pixel 2⁻²² darker, so d²(0, 2) = 784 − 2⁻²¹
    // while d²(0, 3) = 784: the same float32 score, where ArgMax takes the first, row 2. With chunks of two,
    // rows 2 and 3 share a reference chunk and neither queries row 0, so only the exact re-check finds (0, 3).
    const dim = 784;
    const x = new Float32Array(6 * dim).fill(0.5);
    x.fill(0, 0, dim);
    x.fill(1, 2 * dim, 4 * dim);
    x[2 * dim + 100] = 1 - 2 ** -22;
    const got = await maxPairwiseDistance(x, dim, { chunkRows: 2 });
    assert.deepEqual([got.i, got.j], [0, 3]);
    assert.equal(got.distance, 28);
  });

  it('handles two rows and refuses one', async () => {
    const x = Float32Array.from([0, 0, 0, 3, 4, 0]);
    assert.deepEqual(await maxPairwiseDistance(x, 3), { distance: 5, i: 0, j: 1, candidates: 2 });
    const same = await maxPairwiseDistance(Float32Array.from([0.5, 0.5, 0.5, 0.5]), 2);
    assert.deepEqual([same.distance, same.i, same.j], [0, 0, 1]);
    await assert.rejects(maxPairwiseDistance(Float32Array.from([1, 2, 3]), 3), {
      name: 'RangeError',
      message: /at least 2 rows/,
    });
    await assert.rejects(maxPairwiseDistance(new Float32Array(5), 3), RangeError);
  });
});
