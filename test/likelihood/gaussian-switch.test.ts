/**
 * The likelihood's Gaussian switch (gaussianAbove): the Gaussian's score and exact VJP, the closed-form flow
 * from the switch σ to σmax against the closed-form Gaussian flow and against the ODE integrated through the
 * same Gaussian, the σ the network is still asked at, and the refusals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitGaussian, type GaussianStatistics } from '../../src/diagnostics/index.js';
import {
  computeLikelihood,
  gaussianFlowMap,
  gaussianScoreVjp,
  mixtureScoreVjp,
  type ScoreVjpFn,
} from '../../src/likelihood/index.js';
import { Generator, randn } from '../../src/random/index.js';
import { Tensor } from '../../src/tensor.js';
import { gaussianFlow } from './closed-form.js';
import { DIMS, images8bit } from './problems.js';

const D = 16;
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** N(0.5, 0.2²·I) as statistics: the data of closed-form.ts. */
function isotropic(): GaussianStatistics {
  const eigenvectors = new Float64Array(D * D);
  for (let i = 0; i < D; i++) eigenvectors[i * D + i] = 1;
  return {
    kind: 'full',
    dim: D,
    count: 0,
    mean: new Float64Array(D).fill(0.5),
    eigenvalues: new Float64Array(D).fill(0.04),
    eigenvectors,
    residualVariance: 0,
  };
}

/** A correlated Gaussian fitted to 300 draws, and its top 4 eigenpairs with an isotropic rest (low-rank). */
async function correlated(): Promise<{ full: GaussianStatistics; lowRank: GaussianStatistics }> {
  const z = randn([300, D], { generator: new Generator().manualSeed(11) }).data as Float32Array;
  const rows = new Float32Array(300 * D);
  for (let r = 0; r < 300; r++)
    for (let i = 0; i < D; i++)
      rows[r * D + i] = 0.5 + 0.15 * z[r * D + i] + 0.1 * z[r * D + ((i + 1) % D)] + 0.02 * i;
  const full = await fitGaussian((i, out) => out.set(rows.subarray(i * D, (i + 1) * D)), 300, D);
  const k = 4;
  const rest = full.eigenvalues.subarray(k).reduce((a, b) => a + b, 0) / (D - k);
  const lowRank: GaussianStatistics = {
    ...full,
    kind: 'low-rank',
    eigenvalues: full.eigenvalues.slice(0, k),
    eigenvectors: full.eigenvectors.slice(0, k * D),
    residualVariance: rest,
  };
  return { full, lowRank };
}

/** The Gaussian itself as the "network". */
const asModel =
  (g: GaussianStatistics): ScoreVjpFn =>
  async (x, sigma, v) => {
    const { score, vjp } = gaussianScoreVjp(g, x.data, sigma, v.data);
    return { score: new Tensor('float32', score, x.dims), vjp: new Tensor('float32', vjp, x.dims) };
  };

describe('likelihood gaussianAbove', () => {
  const base = { sigmaMin: 0.01, sigmaMax: 50, dequantize: false, divergence: 'exact' } as const;
  const tight = { ...base, rtol: 1e-7, atol: 1e-7 };

  it("the Gaussian's VJP is its score's change along v (the score is linear in x)", async () => {
    const { full } = await correlated();
    const x = images8bit(2).data;
    const v = randn([2, D], { generator: new Generator().manualSeed(2) }).data as Float32Array;
    const sigma = Float32Array.from([0.3, 4]);
    const { score, vjp } = gaussianScoreVjp(full, x, sigma, v);
    const moved = gaussianScoreVjp(
      full,
      Float64Array.from(x, (xi, i) => xi + v[i]),
      sigma,
      v,
    ).score;
    const scale = Math.max(...vjp.map(Math.abs));
    assert.ok(
      maxAbsDiff(
        vjp,
        moved.map((s, i) => s - score[i]),
      ) <
        1e-4 * scale,
    );
  });

  for (const above of [1, 0.001]) {
    it(`switch at σ = ${above}: bits/dim, Δlogp and latent of Gaussian data equal the closed-form flow`, async () => {
      const x = images8bit(3);
      const ref = gaussianFlow(Float64Array.from(x.data), 3, 0.5, 0.2, 0.01, 50, 1e-5);
      const network = mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: DIMS });
      const r = await computeLikelihood(network, x, {
        ...tight,
        gaussianAbove: above,
        gaussian: isotropic(),
      });
      assert.ok(maxAbsDiff(r.bitsPerDim, ref.bitsPerDim) < 1e-6, `bpd ${r.bitsPerDim} vs ${ref.bitsPerDim}`);
      assert.ok(maxAbsDiff(r.deltaLogp, ref.deltaLogp) < 1e-6 * Math.abs(ref.deltaLogp[0]));
      assert.ok(maxAbsDiff(r.latent.data, ref.latent) < 1e-6 * Math.max(...ref.latent.map(Math.abs)));
      // Below σ(eps) the whole path is the Gaussian's: no network call at all.
      if (above < 0.01) assert.equal(r.networkCalls, 0);
      else assert.ok(r.networkCalls > 0);
    });
  }

  for (const kind of ['full', 'lowRank'] as const) {
    it(`${kind} statistics: the closed-form segment equals the ODE integrated through the same Gaussian`, async () => {
      const g = (await correlated())[kind];
      const x = images8bit(2, 0.4);
      const ode = await computeLikelihood(asModel(g), x, tight);
      for (const above of [0.5, 7]) {
        const r = await computeLikelihood(asModel(g), x, { ...tight, gaussianAbove: above, gaussian: g });
        assert.ok(
          maxAbsDiff(r.bitsPerDim, ode.bitsPerDim) < 1e-6,
          `σ ${above}: ${r.bitsPerDim} vs ${ode.bitsPerDim}`,
        );
        assert.ok(maxAbsDiff(r.latent.data, ode.latent.data) < 1e-5 * 50);
        assert.ok(r.nfe < ode.nfe, 'the segment above the switch costs no ODE steps');
      }
    });
  }

  it('a switch at or above σmax changes nothing; the map from σ to itself is the identity', async () => {
    const g = isotropic();
    const x = images8bit(2);
    const network = mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: DIMS });
    const plain = await computeLikelihood(network, x, base);
    const r = await computeLikelihood(network, x, { ...base, gaussianAbove: 50, gaussian: g });
    assert.deepEqual([...r.bitsPerDim], [...plain.bitsPerDim]);
    const same = gaussianFlowMap(g, x.data.subarray(0, D), 3, 3);
    assert.ok(maxAbsDiff(same.x, x.data.subarray(0, D)) < 1e-12);
    assert.equal(same.logDet, 0);
  });

  it('the network is asked only at or below the switch σ, and each answer is counted', async () => {
    const inner = mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: DIMS });
    const seen: number[] = [];
    let calls = 0;
    const network: ScoreVjpFn = (x, sigma, v) => {
      calls++;
      seen.push(...sigma);
      return inner(x, sigma, v);
    };
    const r = await computeLikelihood(network, images8bit(2), {
      ...base,
      gaussianAbove: 2,
      gaussian: isotropic(),
    });
    assert.ok(Math.max(...seen) <= 2 * (1 + 1e-12), `largest σ asked: ${Math.max(...seen)}`);
    assert.equal(r.networkCalls, calls);
  });

  it('refuses a switch without statistics, a bad σ and statistics of another size', async () => {
    const network = mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: DIMS });
    await assert.rejects(
      computeLikelihood(network, images8bit(1), { ...base, gaussianAbove: 2 }),
      /gaussianAbove needs the training data's Gaussian/,
    );
    await assert.rejects(
      computeLikelihood(network, images8bit(1), { ...base, gaussianAbove: 0, gaussian: isotropic() }),
      /finite σ > 0/,
    );
    const small = { ...isotropic(), dim: 8, mean: new Float64Array(8) };
    await assert.rejects(
      computeLikelihood(network, images8bit(1), { ...base, gaussianAbove: 60, gaussian: small }),
      /8 values per image, the data 16/,
    );
  });
});
