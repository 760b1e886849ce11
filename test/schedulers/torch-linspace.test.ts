/** torchLinspaceF32 against raw torch.linspace outputs (fixtures linspace/*), both of torch's dispatches. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { torchLinspaceF32 } from '../../src/schedulers/index.js';
import { assertExact, ref } from './helpers.js';

describe('torchLinspaceF32', () => {
  // N < 16: per-element fused formula; N >= 16: 8-wide vectors from a base plus a scalar tail.
  for (const n of [2, 3, 10, 17, 33, 100, 2000]) {
    it(`matches torch.linspace bit for bit, N = ${n}`, async () => {
      assertExact(torchLinspaceF32(1, 1e-5, n), (await ref(`linspace/1_to_1e-5_N${n}`)).data, `1→1e-5 N${n}`);
      assertExact(
        torchLinspaceF32(Math.log(0.01), Math.log(1348), n),
        (await ref(`linspace/log0.01_to_log1348_N${n}`)).data,
        `log0.01→log1348 N${n}`,
      );
    });
  }

  it('is not start + i·step: the per-element path hits both ends exactly, the vector path only the start', () => {
    for (const n of [10, 17, 33]) {
      const x = torchLinspaceF32(1, 1e-5, n);
      assert.equal(x[0], 1);
      assert.equal(x[n - 1], Math.fround(1e-5), `N${n} end`); // in the scalar tail
    }
    const n = 2000;
    const x = torchLinspaceF32(1, 1e-5, n);
    assert.equal(x[0], 1);
    // 2000 = 125·16: the last element is base + 7·step of a vector, not `end` (torch does the same).
    assert.notEqual(x[n - 1], Math.fround(1e-5));
    const step = Math.fround(Math.fround(Math.fround(1e-5) - 1) / (n - 1));
    let differs = 0;
    for (let i = 0; i < n; i++) if (x[i] !== Math.fround(1 + Math.fround(step * i))) differs++;
    assert.ok(differs > 100, `only ${differs} values differ from the naive formula`);
  });

  it('handles n = 0 and n = 1 like torch (empty; [start])', () => {
    assert.deepEqual(Array.from(torchLinspaceF32(1, 2, 0)), []);
    assert.deepEqual(Array.from(torchLinspaceF32(0.1, 2, 1)), [Math.fround(0.1)]);
  });

  it('rejects bad arguments with a RangeError naming the problem', () => {
    assert.throws(() => torchLinspaceF32(0, 1, -1), /n must be an integer ≥ 0/);
    assert.throws(() => torchLinspaceF32(0, 1, 2.5), /n must be an integer ≥ 0/);
    assert.throws(() => torchLinspaceF32(Number.NaN, 1, 3), /start and end must be finite/);
  });
});
