/**
 * The deterministic samplers (EDM Heun, DPM-Solver++(2M), probability-flow RK45) against the exact
 * probability-flow map of a Gaussian, x(σ) = μ + (x(σ') − μ)·√(s² + σ²)/√(s² + σ'²), and on a mixture.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator, randnTensor } from '../../src/random/index.js';
import { gaussianMixtureScore, gaussianScore, sampleExact } from '../../src/samplers/analytic.js';
import { MIXTURE_2D } from '../../src/samplers/analytic-examples.js';
import { sampleDpmSolver2M } from '../../src/samplers/dpmpp-2m.js';
import { sampleHeun } from '../../src/samplers/heun.js';
import {
  decodeProbabilityFlow,
  encodeProbabilityFlow,
  sampleProbabilityFlow,
} from '../../src/samplers/probability-flow.js';
import type { SamplerStep } from '../../src/samplers/types.js';
import { tensor } from '../../src/tensor.js';
import { assertMatchesMixture } from './mixture-stats.js';

const MEAN = [0.5, -1, 2, 0];
const STD = [0.3, 1, 0.05, 2];
const D = 4;
const B = 8;
const SIGMA_MIN = 0.01;
const SIGMA_MAX = 1348;
const gaussian = gaussianScore(MEAN, STD);

/** Exact ODE map of the Gaussian from x = σmax·z (float32, as the samplers start) at σmax down to σEnd. */
function exactMap(z: Float32Array, sigmaEnd: number): Float64Array {
  return Float64Array.from(z, (zi, i) => {
    const s = STD[i % D];
    const start = Math.fround(zi * SIGMA_MAX);
    return (
      MEAN[i % D] +
      ((start - MEAN[i % D]) * Math.sqrt(s * s + sigmaEnd * sigmaEnd)) /
        Math.sqrt(s * s + SIGMA_MAX * SIGMA_MAX)
    );
  });
}

function maxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

const z = randnTensor([B, D], { generator: new Generator().manualSeed(1) }).data;
const seeded = (seed = 1) => ({ generator: new Generator().manualSeed(seed) });

const mixtureSpec = MIXTURE_2D;
const mixture = gaussianMixtureScore(mixtureSpec);

describe('EDM Heun and DPM-Solver++(2M)', () => {
  for (const [name, run] of [
    ['heun', sampleHeun],
    ['dpmpp-2m', sampleDpmSolver2M],
  ] as const) {
    it(`${name}: converges to the exact ODE map with order 2 (error ratio ≈ 4 per halving)`, async () => {
      const exact = exactMap(z, 0);
      const errors: number[] = [];
      for (const steps of [20, 40, 80]) {
        const r = await run(
          gaussian,
          { shape: [B, D], steps, sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX },
          seeded(),
        );
        assert.equal(r.nfe, name === 'heun' ? 2 * steps - 1 : steps);
        errors.push(maxError(r.sample.data, exact));
      }
      for (let i = 1; i < errors.length; i++) {
        const ratio = errors[i - 1] / errors[i];
        assert.ok(ratio > 3.2 && ratio < 5.5, `${name}: errors ${errors.join(', ')}: ratio ${ratio}`);
      }
    });
  }

  it('heun and dpmpp-2m sample the 2-D mixture (weights, moments within 4 standard errors)', async () => {
    const n = 2000;
    const heun = await sampleHeun(
      mixture,
      { shape: [n, 2], steps: 60, sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX },
      seeded(0),
    );
    assertMatchesMixture(mixture.model, heun.sample, { label: 'heun 60 steps' });
    const dpm = await sampleDpmSolver2M(
      mixture,
      { shape: [n, 2], steps: 50, sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX },
      seeded(0),
    );
    assertMatchesMixture(mixture.model, dpm.sample, { label: 'dpmpp-2m 50 steps' });
  });

  it('heun with churn (EDM S_churn, S_tmin, S_tmax) samples the mixture and uses the extra noise', async () => {
    const n = 2000;
    const opts = {
      shape: [n, 2],
      steps: 100,
      sigmaMin: SIGMA_MIN,
      sigmaMax: SIGMA_MAX,
      churn: 20,
      churnSigmaMin: 0.05,
      churnSigmaMax: 50,
    };
    const r = await sampleHeun(mixture, opts, seeded(0));
    assertMatchesMixture(mixture.model, r.sample, { label: 'heun churn 20' });
    const plain = await sampleHeun(mixture, { ...opts, churn: 0 }, seeded(0));
    assert.ok(maxError(r.sample.data, plain.sample.data) > 0.1, 'churn changed the samples');
  });

  it('a list of generators gives each row its own stream (rows equal separate batch-1 runs)', async () => {
    for (const run of [sampleHeun, sampleDpmSolver2M]) {
      const opts = { sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX, steps: 10, churn: 5 };
      const both = await run(
        mixture,
        { ...opts, shape: [2, 2] },
        { generator: [new Generator().manualSeed(4), new Generator().manualSeed(5)] },
      );
      const a = await run(mixture, { ...opts, shape: [1, 2] }, seeded(4));
      const b = await run(mixture, { ...opts, shape: [1, 2] }, seeded(5));
      assert.deepEqual(both.sample.data, Float32Array.from([...a.sample.data, ...b.sample.data]));
    }
  });

  it('reports every step with its σ and NFE, and stops with an AbortError', async () => {
    const steps: SamplerStep[] = [];
    await sampleHeun(
      gaussian,
      { shape: [B, D], steps: 5, sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX },
      { ...seeded(), onStep: (s) => steps.push(s) },
    );
    assert.deepEqual(
      steps.map((s) => s.step),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      steps.map((s) => s.nfe),
      [2, 4, 6, 8, 9],
    );
    assert.equal(steps[0].sigma, SIGMA_MAX);
    assert.ok(Math.abs(steps[4].sigma - SIGMA_MIN) < 1e-12);
    const controller = new AbortController();
    await assert.rejects(
      sampleDpmSolver2M(
        gaussian,
        { shape: [B, D], steps: 5, sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX },
        {
          ...seeded(),
          signal: controller.signal,
          onStep: (s) => s.step === 1 && controller.abort(),
        },
      ),
      { name: 'AbortError' },
    );
  });
});

describe('probability-flow ODE (RK45)', () => {
  const eps = 1e-5;
  const sigmaEps = SIGMA_MIN * (SIGMA_MAX / SIGMA_MIN) ** eps;
  const latent = tensor(
    z.map((v) => v * SIGMA_MAX),
    [B, D],
  );

  it('solves the Gaussian ODE to the requested tolerance, with fewer calls for looser tolerances', async () => {
    const exact = exactMap(z, sigmaEps);
    const results = [];
    for (const tol of [1e-3, 1e-4, 1e-5, 1e-6]) {
      const r = await decodeProbabilityFlow(gaussian, latent, {
        sigmaMin: SIGMA_MIN,
        sigmaMax: SIGMA_MAX,
        rtol: tol,
        atol: tol,
      });
      results.push({ tol, nfe: r.nfe, err: maxError(r.sample.data, exact) });
    }
    // Global error within 10× the local tolerance (plus float32 output rounding); NFE grows as tolerances tighten.
    for (const { tol, err } of results)
      assert.ok(err < 10 * tol + 1e-6, `rtol=atol=${tol}: max error ${err}`);
    for (let i = 1; i < results.length; i++)
      assert.ok(results[i - 1].nfe < results[i].nfe, JSON.stringify(results));
    assert.equal(results[1].nfe % 6, 2, 'NFE = 2 (initial step selection) + 6 per attempted step');
  });

  it('the final denoising step is Tweedie at σ(eps): std s²/√(s² + σ²)', async () => {
    const r = await decodeProbabilityFlow(gaussian, latent, {
      sigmaMin: SIGMA_MIN,
      sigmaMax: SIGMA_MAX,
      rtol: 1e-6,
      atol: 1e-6,
      denoise: true,
    });
    const exact = exactMap(z, sigmaEps).map((v, i) => {
      const s2 = STD[i % D] ** 2;
      return MEAN[i % D] + ((v - MEAN[i % D]) * s2) / (s2 + sigmaEps * sigmaEps);
    });
    assert.ok(maxError(r.sample.data, exact) < 1e-5);
  });

  it('is invertible: encoding data to noise and decoding it returns the data', async () => {
    const { samples } = sampleExact(mixture.model, 64, new Generator().manualSeed(2));
    const opts = { sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX, rtol: 1e-6, atol: 1e-6 };
    const enc = await encodeProbabilityFlow(mixture, samples, opts);
    // The latent is ≈ σmax·N(0, I).
    let sq = 0;
    for (const v of enc.latent.data) sq += v * v;
    const latentStd = Math.sqrt(sq / enc.latent.numel);
    assert.ok(
      Math.abs(latentStd / SIGMA_MAX - 1) < 4 / Math.sqrt(2 * enc.latent.numel),
      `latent std ${latentStd}`,
    );
    const dec = await decodeProbabilityFlow(mixture, enc.latent, opts);
    const err = maxError(dec.sample.data, samples.data);
    assert.ok(err < 1e-4, `round trip error ${err}`);
  });

  it('samples the 2-D mixture (weights, moments within 4 standard errors) and reports the NFE', async () => {
    const steps: SamplerStep[] = [];
    const r = await sampleProbabilityFlow(
      mixture,
      { shape: [2000, 2], sigmaMin: SIGMA_MIN, sigmaMax: SIGMA_MAX },
      {
        ...seeded(0),
        onStep: (s) => steps.push(s),
      },
    );
    assertMatchesMixture(mixture.model, r.sample, { label: 'ode', finalSigma: sigmaEps });
    assert.equal(r.nfe, steps.at(-1)!.nfe + 1, 'the denoising step is one more call');
    assert.ok(steps.every((s, i) => s.step === i && s.totalSteps >= i + 1));
  });
});
