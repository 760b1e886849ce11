/**
 * computeLikelihood on a real network against an independent float64 computation of the same ODE:
 * tools/likelihood-reference/make_fixture.py (diffusers' UNet2DModel in float64, scipy's RK45, exact divergence
 * from torch autograd, torch's own Hutchinson draws) on the tiny 1×4×4 fourier UNet it saved.
 *
 * Tolerance: both sides are RK45 solutions at rtol = atol = 1e-5, so each is within the solver's global error
 * E of the ODE's true solution; the fixture measures E per row as |solution(1e-5) − solution(1e-8)|. Our float32
 * network perturbs f by ~1e-7 relative, which can flip an accept/reject decision and so change the step
 * sequence; the two solutions then differ by up to ~E (observed: far less). With the same step sequence
 * (same NFE) they agree to ~1e-6.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { computeLikelihood, type UnetScoreVjp, unetScoreVjp } from '../../src/likelihood/index.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { Generator } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { Tensor } from '../../src/tensor.js';

const dir = fileURLToPath(new URL('../fixtures/likelihood/tiny-fourier-1x4x4', import.meta.url));
interface Run {
  bitsPerDim: number[];
  deltaLogp: number[];
  priorLogp: number[];
  nfe: number;
}
const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as {
  sigmaMin: number;
  sigmaMax: number;
  eps: number;
  seed: number;
  shape: number[];
  data8bit: number[];
  runs: Record<string, Run>;
};
const data = new Tensor(
  'float32',
  Float32Array.from(ref.data8bit, (k) => k / 255),
  ref.shape,
);
// The reference is score_sde's likelihood_fn: the batch solved as one ODE system (sharedSteps).
const opts = {
  sigmaMin: ref.sigmaMin,
  sigmaMax: ref.sigmaMax,
  eps: ref.eps,
  dequantize: false,
  sharedSteps: true,
} as const;
/** The solver's global error at 1e-5 per row, from the reference's own tight solve. */
const solverError = ref.runs.exact.bitsPerDim.map((v, b) =>
  Math.abs(v - ref.runs['exact_tol1e-8'].bitsPerDim[b]),
);

let unet: UNet2DModel;
let exactFn: UnetScoreVjp;
before(async () => {
  unet = await UNet2DModel.fromPretrained(dir);
  const rows = ref.shape[0];
  exactFn = await unetScoreVjp(unet, { batchSize: rows * 16 });
});
after(async () => {
  await exactFn?.release();
  await unet?.release();
});

describe('computeLikelihood on the tiny fourier UNet vs the float64 PyTorch + scipy reference', () => {
  it("'exact' bits/dim within the solver's own error at rtol = atol = 1e-5", async () => {
    const r = await computeLikelihood(exactFn, data, { ...opts, divergence: 'exact', exactRowsPerCall: 32 });
    assert.equal(r.networkCalls, r.nfe);
    for (let b = 0; b < 2; b++) {
      const diff = Math.abs(r.bitsPerDim[b] - ref.runs.exact.bitsPerDim[b]);
      assert.ok(
        diff <= solverError[b],
        `row ${b}: ${r.bitsPerDim[b]} vs ${ref.runs.exact.bitsPerDim[b]} (E ${solverError[b]})`,
      );
      // …and as close to the 1000× tighter solve as the reference itself is (2E: each side is within E).
      assert.ok(Math.abs(r.bitsPerDim[b] - ref.runs['exact_tol1e-8'].bitsPerDim[b]) <= 2 * solverError[b]);
    }
  });

  it("'hutchinson-rademacher' with torch's randint draws (through a pipeline): the same steps, agreement to 4 float32 ulps", async () => {
    // The pipeline form takes σ from its scheduler config and compiles its own score + VJP graph.
    const scheduler = ScoreSdeVeScheduler.fromConfig({ sigma_min: ref.sigmaMin, sigma_max: ref.sigmaMax });
    const pipe = new ScoreSdeVePipeline({ unet, scheduler });
    const r = await computeLikelihood(pipe, data, {
      eps: ref.eps,
      dequantize: false,
      sharedSteps: true,
      divergence: 'hutchinson-rademacher',
      generator: new Generator().manualSeed(ref.seed),
    });
    const want = ref.runs['hutchinson-rademacher'];
    // Same NFE = same accepted steps (as here): then only the float32 network separates the two, by a few
    // float32 ulps of the value (measured: 1 ulp on an AVX-512 Xeon, 2 on an AVX2-only Zen 1, where the
    // kernels sum in another order; bits/dim ≈ 14 has an ulp of 9.5e-7). On a CPU whose float32 kernels round
    // differently, one accept/reject decision may flip; the solutions then differ by up to the solver error,
    // bounded as in the exact case.
    const ulp32 = (x: number) => 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23);
    for (let b = 0; b < 2; b++) {
      const bound = r.nfe === want.nfe ? 4 * ulp32(want.bitsPerDim[b]) : Math.max(...solverError);
      const diff = Math.abs(r.bitsPerDim[b] - want.bitsPerDim[b]);
      assert.ok(diff < bound, `${r.bitsPerDim[b]} vs ${want.bitsPerDim[b]} (NFE ${r.nfe} vs ${want.nfe})`);
      assert.ok(Math.abs(r.priorLogp[b] - want.priorLogp[b]) < 1e-4 * Math.abs(want.priorLogp[b]));
    }
  });

  it('a UNet2DModel with sigmaMin / sigmaMax gives the pipeline form its numbers, bit for bit', async () => {
    const scheduler = ScoreSdeVeScheduler.fromConfig({ sigma_min: ref.sigmaMin, sigma_max: ref.sigmaMax });
    const pipe = new ScoreSdeVePipeline({ unet, scheduler });
    const common = { eps: ref.eps, dequantize: false, divergence: 'hutchinson-rademacher' } as const;
    const viaPipe = await computeLikelihood(pipe, data, {
      ...common,
      generator: new Generator().manualSeed(ref.seed),
    });
    const viaUnet = await computeLikelihood(unet, data, {
      ...common,
      sigmaMin: ref.sigmaMin,
      sigmaMax: ref.sigmaMax,
      generator: new Generator().manualSeed(ref.seed),
    });
    assert.deepEqual(viaUnet.bitsPerDim, viaPipe.bitsPerDim);
    assert.equal(viaUnet.nfe, viaPipe.nfe);
    // The σ range is the UNet's caller's: another σ_max gives another prior term.
    const other = await computeLikelihood(unet, data, {
      ...common,
      sigmaMin: ref.sigmaMin,
      sigmaMax: 2 * ref.sigmaMax,
      generator: new Generator().manualSeed(ref.seed),
    });
    assert.notDeepEqual(other.priorLogp, viaPipe.priorLogp);
  });
});
