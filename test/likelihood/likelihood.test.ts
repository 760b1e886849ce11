/**
 * computeLikelihood against exact maths: the closed-form Gaussian flow (bits/dim, latent), a Gaussian
 * mixture's exact noised log-density (the divergence integral), Hutchinson's estimators in the mean, and the
 * torch-compatible random draws. Tolerances: RK45's global error is a small multiple of its tolerance
 * (measured 3–4× tol in bits/dim on the Gaussian), so a solve at tol has a bound of 10× tol; the float32 score
 * puts a floor of ~1e-7 under that.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeLikelihood,
  type LikelihoodOptions,
  mixtureLogDensity,
  mixtureScoreVjp,
  type ScoreVjpFn,
  vePriorLogp,
} from '../../src/likelihood/index.js';
import { Generator, rand, randn } from '../../src/random/index.js';
import { Tensor } from '../../src/tensor.js';
import { gaussianFlow } from './closed-form.js';
import { DIMS, images8bit, mixtureSpec } from './problems.js';

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const sigmaAt = (o: { sigmaMin: number; sigmaMax: number }, t: number) =>
  o.sigmaMin * (o.sigmaMax / o.sigmaMin) ** t;

const gaussian = mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: DIMS });
const mixture = mixtureScoreVjp(mixtureSpec());

describe('computeLikelihood on Gaussian data (closed-form flow)', () => {
  for (const sigmaMax of [50, 1348]) {
    const base = { sigmaMin: 0.01, sigmaMax, dequantize: false, divergence: 'exact' } as const;
    const x = images8bit(3);
    const ref = gaussianFlow(Float64Array.from(x.data), 3, 0.5, 0.2, 0.01, sigmaMax, 1e-5);

    it(`σ ∈ [0.01, ${sigmaMax}]: bits/dim, Δlogp, prior and latent at tol 1e-7 within 1e-6`, async () => {
      const r = await computeLikelihood(gaussian, x, { ...base, rtol: 1e-7, atol: 1e-7 });
      assert.ok(maxAbsDiff(r.bitsPerDim, ref.bitsPerDim) < 1e-6, `bpd ${r.bitsPerDim} vs ${ref.bitsPerDim}`);
      const zScale = Math.max(...ref.latent.map(Math.abs));
      assert.ok(maxAbsDiff(r.latent.data, ref.latent) / zScale < 1e-6);
      // Δlogp is 8 nats per dimension here: 1e-6 relative.
      assert.ok(maxAbsDiff(r.deltaLogp, ref.deltaLogp) < 1e-6 * Math.abs(ref.deltaLogp[0]));
      assert.ok(
        maxAbsDiff(
          r.priorLogp,
          r.priorLogp.map((_, b) => vePriorLogp(r.latent.data, 3, sigmaMax)[b]),
        ) < 1e-3,
      );
    });

    it(`σ ∈ [0.01, ${sigmaMax}]: default tolerances (1e-5) within 1e-4 bits/dim`, async () => {
      const r = await computeLikelihood(gaussian, x, base);
      assert.ok(maxAbsDiff(r.bitsPerDim, ref.bitsPerDim) < 1e-4, `bpd ${r.bitsPerDim} vs ${ref.bitsPerDim}`);
      assert.equal(r.networkCalls, r.nfe * Math.ceil((3 * 16) / 256));
    });
  }

  it('Rademacher Hutchinson is exact for a diagonal Jacobian (εᵢ² = 1)', async () => {
    const x = images8bit(2);
    const o = { sigmaMin: 0.01, sigmaMax: 50, dequantize: false } as const;
    const exact = await computeLikelihood(gaussian, x, { ...o, divergence: 'exact' });
    const rade = await computeLikelihood(gaussian, x, { ...o, generator: new Generator().manualSeed(3) });
    assert.ok(maxAbsDiff(rade.bitsPerDim, exact.bitsPerDim) < 1e-9);
    const gauss = await computeLikelihood(gaussian, x, {
      ...o,
      divergence: 'hutchinson-gaussian',
      generator: new Generator().manualSeed(3),
    });
    // …and the Gaussian probe is not (|ε|² ≠ D): the comparison above can fail.
    assert.ok(maxAbsDiff(gauss.bitsPerDim, exact.bitsPerDim) > 1e-3);
  });
});

describe('computeLikelihood on a Gaussian mixture', () => {
  const o = { sigmaMin: 0.01, sigmaMax: 50, dequantize: false } as const;
  const batch = 8;
  const x = images8bit(batch);

  it("'exact': log N(z) + Δlogp equals log p_σ(eps)(x) + log N(z) − log p_σmax(z) within 1e-4 nats at tol 1e-7", async () => {
    // The flow carries p_σ(eps) to p_σmax exactly; the prior N(0, σmax²) replaces p_σmax at the end.
    const r = await computeLikelihood(mixture, x, { ...o, divergence: 'exact', rtol: 1e-7, atol: 1e-7 });
    const logpX = mixtureLogDensity(mixture.model, x.data, sigmaAt(o, 1e-5));
    const logpZ = mixtureLogDensity(mixture.model, r.latent.data, o.sigmaMax);
    const prior = vePriorLogp(r.latent.data, batch, o.sigmaMax);
    for (let b = 0; b < batch; b++) {
      const err = r.priorLogp[b] + r.deltaLogp[b] - (prior[b] - logpZ[b]) - logpX[b];
      assert.ok(Math.abs(err) < 1e-4, `row ${b}: ${err}`);
    }
  });

  for (const method of ['hutchinson-rademacher', 'hutchinson-gaussian'] as const) {
    it(`'${method}' agrees with 'exact' in the mean within 3 standard errors`, async () => {
      const tol = { rtol: 1e-4, atol: 1e-4 }; // solver error ≪ the estimator's spread (~2 bits/dim)
      const exact = await computeLikelihood(mixture, x, { ...o, ...tol, divergence: 'exact' });
      const diffs: number[] = [];
      for (let rep = 0; rep < 24; rep++) {
        const r = await computeLikelihood(mixture, x, {
          ...o,
          ...tol,
          divergence: method,
          generator: new Generator().manualSeed(rep),
        });
        for (let b = 0; b < batch; b++) diffs.push(r.bitsPerDim[b] - exact.bitsPerDim[b]);
      }
      const mean = diffs.reduce((a, b) => a + b) / diffs.length;
      const se = Math.sqrt(
        diffs.reduce((a, b) => a + (b - mean) ** 2, 0) / (diffs.length - 1) / diffs.length,
      );
      assert.ok(Math.abs(mean) < 3 * se, `mean ${mean} ± ${se}`);
      // The check is sharp enough to see a wrong divergence: the divergence term is ≫ the standard error.
      const divTerm = Math.abs(exact.deltaLogp[0]) / (16 * Math.LN2);
      assert.ok(se < 0.1 * divTerm, `se ${se} vs divergence term ${divTerm}`);
    });
  }
});

/** A ScoreVjpFn that records what it is called with. */
function spy(inner: ScoreVjpFn) {
  const calls: { x: Float32Array; sigma: Float32Array; v: Float32Array; rows: number }[] = [];
  const fn: ScoreVjpFn = async (x, sigma, v) => {
    calls.push({ x: x.data.slice(), sigma: sigma.slice(), v: v.data.slice(), rows: x.dims[0] });
    return inner(x, sigma, v);
  };
  return { fn, calls };
}

describe('computeLikelihood: random draws, batching and plumbing', () => {
  const o: LikelihoodOptions = { sigmaMin: 0.01, sigmaMax: 50, rtol: 1e-3, atol: 1e-3 };
  const x = images8bit(2);

  it("'hutchinson-gaussian' draws ε = randn(shape, g) first, then u = rand(shape, g) for (k + u)/256", async () => {
    const s = spy(gaussian);
    await computeLikelihood(s.fn, x, {
      ...o,
      divergence: 'hutchinson-gaussian',
      generator: new Generator().manualSeed(5),
    });
    const g = new Generator().manualSeed(5);
    const eps = randn(x.dims, { generator: g }).data;
    const u = rand(x.dims, { generator: g }).data;
    for (const c of s.calls) assert.deepEqual(c.v, eps); // held fixed for the whole solve
    const x0 = Float32Array.from(x.data, (v, i) => (Math.round(v * 255) + u[i]) / 256);
    assert.deepEqual(s.calls[0].x, x0);
    // The first call is at t = eps: σ(eps) in float32, one per row.
    assert.deepEqual(
      s.calls[0].sigma,
      new Float32Array(2).fill(sigmaAt({ sigmaMin: 0.01, sigmaMax: 50 }, 1e-5)),
    );
  });

  it("'hutchinson-rademacher' draws torch.randint(0, 2, shape, generator=g)·2 − 1", async () => {
    const s = spy(mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: [1, 2, 4] }));
    const small = new Tensor('float32', x.data.slice(0, 8), [1, 1, 2, 4]);
    await computeLikelihood(s.fn, small, { ...o, generator: new Generator().manualSeed(0) });
    // torch 1.13: torch.randint(0, 2, (8,), generator=torch.Generator().manual_seed(0)) = [0, 1, 1, 0, 1, 1, 1, 1]
    assert.deepEqual(Array.from(s.calls[0].v), [-1, 1, 1, -1, 1, 1, 1, 1]);
  });

  it('the batch is solved side by side: one network call of B rows per evaluation, B·k rows for exact', async () => {
    const s = spy(gaussian);
    const r = await computeLikelihood(s.fn, x, o);
    assert.equal(s.calls.length, r.nfe);
    assert.equal(r.networkCalls, r.nfe);
    assert.ok(s.calls.every((c) => c.rows === 2));
    const e = spy(gaussian);
    const re = await computeLikelihood(e.fn, x, { ...o, divergence: 'exact', exactRowsPerCall: 10 });
    // 10 rows = 5 basis vectors for both rows; 16 basis vectors → 4 calls (5, 5, 5, 1).
    assert.equal(re.networkCalls, re.nfe * 4);
    assert.deepEqual(
      e.calls.slice(0, 4).map((c) => c.rows),
      [10, 10, 10, 2],
    );
  });

  it("a row's result is the one it gets alone, whatever it is batched with (own steps per row)", async () => {
    const tol = { ...o, dequantize: false, divergence: 'exact' } as const;
    // Row 0 with a far-off companion (the flipped image: a low-density point needing smaller steps).
    const other = Float32Array.from(x.data.subarray(16, 32), (v) => 1 - v);
    const pairs = [x.data, Float32Array.from([...x.data.subarray(0, 16), ...other])];
    const row0 = new Tensor('float32', x.data.slice(0, 16), [1, ...DIMS]);
    const alone = await computeLikelihood(mixture, row0, tol);
    for (const pair of pairs) {
      const r = await computeLikelihood(mixture, new Tensor('float32', pair, x.dims), tol);
      assert.equal(r.bitsPerDim[0], alone.bitsPerDim[0]);
      assert.deepEqual(r.latent.data.subarray(0, 16), alone.latent.data);
    }
    // score_sde's single system (sharedSteps) couples them: the companion moves row 0 (by 0.016 bits/dim here,
    // at rtol = atol = 1e-3).
    const shared = await computeLikelihood(mixture, new Tensor('float32', pairs[1], x.dims), {
      ...tol,
      sharedSteps: true,
    });
    assert.notEqual(shared.bitsPerDim[0], alone.bitsPerDim[0]);
    assert.ok(Math.abs(shared.bitsPerDim[0] - alone.bitsPerDim[0]) < 0.1);
  });

  it('reports progress up to t = 1 and stops on abort', async () => {
    const fractions: number[] = [];
    await computeLikelihood(gaussian, x, { ...o, onStep: (s) => fractions.push(s.fraction) });
    assert.ok(fractions.length > 2);
    assert.ok(fractions.every((f, i) => i === 0 || f > fractions[i - 1]));
    assert.equal(fractions.at(-1), 1);
    const controller = new AbortController();
    const run = computeLikelihood(gaussian, x, {
      ...o,
      signal: controller.signal,
      onStep: () => controller.abort(),
    });
    await assert.rejects(run, { name: 'AbortError' });
  });

  it('refuses data outside [0, 1], an unknown divergence and a model that changes the shape', async () => {
    const bad = new Tensor(
      'float32',
      Float32Array.from(x.data, (v, i) => (i === 3 ? 1.5 : v)),
      x.dims,
    );
    await assert.rejects(computeLikelihood(gaussian, bad, o), /\[0, 1\]; element 3 is 1.5/);
    await assert.rejects(
      computeLikelihood(gaussian, x, { ...o, divergence: 'trace' as 'exact' }),
      /divergence must be one of/,
    );
    const shrink: ScoreVjpFn = async (xx) => ({
      score: xx,
      vjp: new Tensor('float32', new Float32Array(1), [1]),
    });
    await assert.rejects(computeLikelihood(shrink, x, o), /vjp of float32 \[1\]/);
  });
});
