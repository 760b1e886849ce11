import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  argmaxRows,
  expectedUniformTotalVariation,
  labelHistogram,
} from '../../src/evaluation/label-histogram.js';
import { nearestNeighbours, summariseDistances } from '../../src/evaluation/nearest-neighbour.js';
import { Generator, rand } from '../../src/random/index.js';

describe('labelHistogram', () => {
  it('is 0 for a uniform histogram and maximal when every label is one class', () => {
    const uniform = labelHistogram([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], 5);
    assert.deepEqual(uniform.counts, [2, 2, 2, 2, 2]);
    assert.equal(uniform.totalVariation, 0);
    assert.equal(uniform.klToUniform, 0);
    const collapsed = labelHistogram([3, 3, 3, 3], 10);
    assert.ok(Math.abs(collapsed.totalVariation - 0.9) < 1e-15);
    assert.ok(Math.abs(collapsed.klToUniform - Math.log(10)) < 1e-15);
  });

  it('computes TV and KL from their definitions on an uneven histogram', () => {
    // p = (1/2, 1/4, 1/4, 0) against 1/4 each.
    const h = labelHistogram([0, 0, 1, 2], 4);
    assert.deepEqual(h.frequencies, [0.5, 0.25, 0.25, 0]);
    assert.ok(Math.abs(h.totalVariation - 0.25) < 1e-15);
    const kl = 0.5 * Math.log(2) + 0.25 * Math.log(1) * 2;
    assert.ok(Math.abs(h.klToUniform - kl) < 1e-15);
  });

  it('expectedUniformTotalVariation equals the mean TV over every equally likely label sequence', () => {
    // Enumerate all K^n sequences: each is equally likely under uniform draws.
    for (const [n, k] of [
      [1, 10],
      [2, 2],
      [5, 3],
      [7, 4],
    ]) {
      let sum = 0;
      const total = k ** n;
      for (let code = 0; code < total; code++) {
        const labels = Array.from({ length: n }, (_, i) => Math.floor(code / k ** i) % k);
        sum += labelHistogram(labels, k).totalVariation;
      }
      const exact = sum / total;
      const e = expectedUniformTotalVariation(n, k);
      assert.ok(Math.abs(e - exact) < 1e-12, `n ${n}, K ${k}: ${e} vs ${exact}`);
    }
    // Large n: the CLT limit K · σ · √(2/π) / (2n) with σ = √(n p (1 − p)), p = 1/K.
    const n = 100_000;
    const clt = (10 * Math.sqrt(n * 0.09) * Math.sqrt(2 / Math.PI)) / (2 * n);
    assert.ok(Math.abs(expectedUniformTotalVariation(n, 10) / clt - 1) < 1e-3);
    assert.throws(() => expectedUniformTotalVariation(0, 10), /n = 0/);
    assert.throws(() => expectedUniformTotalVariation(10, 1), /numClasses = 1/);
  });

  it('refuses labels out of range and an empty set', () => {
    assert.throws(() => labelHistogram([0, 10], 10), /label 10 at 1/);
    assert.throws(() => labelHistogram([], 10), /no labels/);
  });

  it('argmaxRows picks the largest logit per row, the first on ties', () => {
    const logits = Float32Array.from([0, 2, 1, 5, 5, -1, -3, -2, -1]);
    assert.deepEqual([...argmaxRows(logits, 3)], [1, 0, 2]);
  });
});

describe('nearestNeighbours', () => {
  it('finds the exact nearest row and distance on toy data (matches brute force)', async () => {
    const dim = 7;
    const gen = new Generator().manualSeed(3);
    const reference = rand([50, dim], { generator: gen }).data;
    const queries = rand([13, dim], { generator: gen }).data;
    // Query 4 is a copy of reference row 37, query 9 a copy of row 0 plus 1e-4 in one pixel.
    queries.set(reference.subarray(37 * dim, 38 * dim), 4 * dim);
    queries.set(reference.subarray(0, dim), 9 * dim);
    queries[9 * dim + 2] += 1e-4;
    const got = await nearestNeighbours(queries, reference, dim, { chunkRows: 16, queryRows: 5 });
    for (let i = 0; i < 13; i++) {
      let best = Number.POSITIVE_INFINITY;
      let arg = -1;
      for (let j = 0; j < 50; j++) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += (queries[i * dim + k] - reference[j * dim + k]) ** 2;
        if (s < best) [best, arg] = [s, j];
      }
      assert.equal(got.index[i], arg, `query ${i}`);
      assert.ok(Math.abs(got.distance[i] - Math.sqrt(best)) < 1e-12, `query ${i}`);
    }
    assert.equal(got.distance[4], 0);
    const tiny = Math.fround(reference[2] + 1e-4) - reference[2];
    assert.ok(Math.abs(got.distance[9] - tiny) < 1e-12, `a 1e-4 difference is resolved: ${got.distance[9]}`);
  });

  it('summariseDistances gives mean, lower median, 1st percentile and minimum', () => {
    const s = summariseDistances([4, 1, 3, 2]);
    assert.deepEqual(s, { mean: 2.5, median: 2, p01: 1, min: 1 });
  });
});
