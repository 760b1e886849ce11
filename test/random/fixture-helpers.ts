/** Shared helpers for the randn fixture tests: paths and bitwise comparison of float32 arrays. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../src/tensor.js';

/** test/fixtures/randn, resolved from this file. */
export const RANDN_FIXTURES = fileURLToPath(new URL('../fixtures/randn/', import.meta.url));

/** Asserts `actual` equals the reference tensor bit for bit (dims included), naming the first difference. */
export function assertBitEqual(actual: Tensor, expected: Tensor, name: string): void {
  assert.deepEqual(actual.dims, expected.dims, `${name}: dims`);
  assert.equal(actual.dtype, 'float32', `${name}: dtype`);
  assert.equal(expected.dtype, 'float32', `${name}: reference dtype`);
  const a = actual.data as Float32Array;
  const e = expected.data as Float32Array;
  const ab = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const eb = new Uint32Array(e.buffer, e.byteOffset, e.length);
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < eb.length; i++) {
    if (ab[i] !== eb[i]) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  assert.equal(
    mismatches,
    0,
    `${name}: ${mismatches} of ${eb.length} values differ; first at [${first}]: got ${a[first]}, want ${e[first]}`,
  );
}
