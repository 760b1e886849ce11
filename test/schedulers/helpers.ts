/** Shared helpers for the scheduler tests: the reference fixture file and float32 comparisons. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/index.js';
import type { Tensor } from '../../src/tensor.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const SCHEDULER_FILE = fileURLToPath(new URL('../fixtures/scheduler/scheduler.safetensors', import.meta.url));

let cache: Promise<Map<string, Tensor>> | undefined;

/** All tensors of test/fixtures/scheduler/scheduler.safetensors, keyed `group/name` (loaded once per process). */
export function schedulerFixtures(): Promise<Map<string, Tensor>> {
  cache ??= loadSafetensors(SCHEDULER_FILE).then((f) => f.tensors);
  return cache;
}

/** A float32 fixture tensor; fails the test if it is missing or not float32. */
export async function ref(key: string): Promise<Tensor<'float32'>> {
  const t = (await schedulerFixtures()).get(key);
  assert.ok(t, `fixture ${key} missing`);
  assert.equal(t.dtype, 'float32', `fixture ${key} dtype`);
  return t as Tensor<'float32'>;
}

/** An int64 fixture as numbers. */
export async function refIndex(key: string): Promise<number[]> {
  const t = (await schedulerFixtures()).get(key);
  assert.ok(t, `fixture ${key} missing`);
  assert.equal(t.dtype, 'int64', `fixture ${key} dtype`);
  return Array.from(t.data as BigInt64Array, Number);
}

/** Asserts bit-identical float32 values (NaN equal to NaN, +0 ≠ −0 not checked); reports the first mismatch. */
export function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let mismatches = 0;
  let first = -1;
  for (let i = 0; i < expected.length; i++) {
    const same = actual[i] === expected[i] || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]));
    if (!same) {
      mismatches++;
      if (first < 0) first = i;
    }
  }
  assert.equal(
    mismatches,
    0,
    `${label}: ${mismatches}/${expected.length} values differ; first at ${first}: ${actual[first]} vs ${expected[first]}`,
  );
}

/** max|a − b| / max|ref|, the FIXTURES-README's relative error. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'relError: length');
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Asserts relError ≤ tol and that all values are finite. */
export function assertRel(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  label: string,
): void {
  for (let i = 0; i < actual.length; i++)
    assert.ok(Number.isFinite(actual[i]), `${label}: non-finite at ${i}`);
  const rel = relError(actual, expected);
  assert.ok(rel <= tol, `${label}: rel error ${rel} > ${tol}`);
}

/** Asserts |a − b| ≤ rtol·|b| elementwise (the README's table check). */
export function assertRtol(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= rtol * Math.abs(expected[i]);
    assert.ok(ok, `${label}[${i}]: ${actual[i]} vs ${expected[i]} beyond rtol ${rtol}`);
  }
}
