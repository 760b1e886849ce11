/**
 * The optimiser against torch 1.13 bit for bit: Adam, clip_grad_norm_, warmup and score_sde's EMA on
 * hand-made gradients (test/fixtures/training/optimizer-exact.safetensors, tools/refgen/training_optimizer_ref.py).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { clipGradNorm, normTwo } from '../../src/training/clip-grad.js';
import { ExponentialMovingAverage } from '../../src/training/ema.js';
import { learningRate, ScoreSdeOptimizer } from '../../src/training/optimization.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/training/optimizer-exact.safetensors', import.meta.url));
const NAMES = ['a', 'b', 'c', 'd', 'tiny'];

async function fixture() {
  const t = (await loadSafetensors(FIXTURE)).tensors;
  const f32 = (k: string) => {
    const v = t.get(k);
    assert.ok(v, `fixture lacks ${k}`);
    return Float32Array.from(v.data as Float32Array);
  };
  const scalar = (k: string) => Number((t.get(k)!.data as Float32Array | Float64Array)[0]);
  return { f32, scalar };
}

function assertBitEqual(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}[${i}]: ${actual[i]} ≠ torch ${expected[i]}`);
  }
}

test('Adam + clip_grad_norm_ + warmup + EMA match torch 1.13 bit for bit over 6 steps', async () => {
  const { f32, scalar } = await fixture();
  const params = NAMES.map((n) => f32(`init/${n}`));
  const opt = new ScoreSdeOptimizer(params, { lr: 1e-2, warmup: 3, gradClip: 1, emaDecay: 0.4 });
  for (let k = 0; k < 6; k++) {
    const grads = NAMES.map((n) => f32(`step${k}/grad/${n}`));
    const { lr, gradNorm } = opt.update(k, params, grads);
    assert.equal(lr, scalar(`step${k}/lr`), `step ${k} lr`);
    assert.equal(gradNorm, scalar(`step${k}/total_norm`), `step ${k} total norm`);
    NAMES.forEach((n, i) => {
      assertBitEqual(grads[i], f32(`step${k}/clipped_grad/${n}`), `step ${k} clipped grad ${n}`);
      assertBitEqual(params[i], f32(`step${k}/param/${n}`), `step ${k} param ${n}`);
      assertBitEqual(opt.ema.shadow[i], f32(`step${k}/ema/${n}`), `step ${k} ema ${n}`);
    });
  }
  NAMES.forEach((n, i) => {
    assertBitEqual(opt.adam.expAvg[i], f32(`final/exp_avg/${n}`), `exp_avg ${n}`);
    assertBitEqual(opt.adam.expAvgSq[i], f32(`final/exp_avg_sq/${n}`), `exp_avg_sq ${n}`);
  });
  assert.equal(opt.adam.stepCount, 6);
});

test('learningRate: lr·min(k/warmup, 1); warmup 0 is constant', () => {
  assert.equal(learningRate(0, 2e-4, 5000), 0);
  assert.equal(learningRate(2500, 2e-4, 5000), 2e-4 * 0.5);
  assert.equal(learningRate(1, 1e-2, 3), 1e-2 * (1 / 3));
  assert.equal(learningRate(5000, 2e-4, 5000), 2e-4);
  assert.equal(learningRate(9999, 2e-4, 5000), 2e-4);
  assert.equal(learningRate(0, 2e-4, 0), 2e-4);
});

test('EMA decay is min(decay, (1 + n)/(10 + n)) with n counting updates from 1', () => {
  const ema = new ExponentialMovingAverage([new Float32Array([0])], 0.999);
  const p = [new Float32Array([1])];
  let expected = 0;
  for (let n = 1; n <= 3; n++) {
    const d = Math.min(0.999, (1 + n) / (10 + n));
    assert.equal(ema.nextDecay(), d);
    ema.update(p);
    expected = Math.fround(expected - Math.fround(Math.fround(1 - d) * Math.fround(expected - 1)));
    assert.equal(ema.shadow[0][0], expected);
  }
  assert.equal(new ExponentialMovingAverage([], 0.5).nextDecay(), 2 / 11);
  const late = new ExponentialMovingAverage([], 0.5);
  late.numUpdates = 100;
  assert.equal(late.nextDecay(), 0.5);
});

test('clip_grad_norm_: below the bound the gradients are untouched, above they scale to the bound', () => {
  const small = [new Float32Array([0.3, 0.4])];
  assert.equal(clipGradNorm(small, 1), Math.fround(0.5));
  assert.deepEqual([...small[0]], [Math.fround(0.3), Math.fround(0.4)]);
  const big = [new Float32Array([3]), new Float32Array([4])];
  assert.equal(clipGradNorm(big, 1), 5);
  const after = Math.hypot(big[0][0], big[1][0]);
  assert.ok(Math.abs(after - 1) < 1e-6, `norm after clipping ${after}`);
  // A norm of many values: 8 lanes + tail, close to the exact value.
  const x = Float32Array.from({ length: 1003 }, (_, i) => Math.sin(i));
  let exact = 0;
  for (const v of x) exact += v * v;
  assert.ok(Math.abs(normTwo(x) - Math.sqrt(exact)) < 1e-5 * Math.sqrt(exact));
});
