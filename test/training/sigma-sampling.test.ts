/** σ allocations of training (sigma-sampling.ts) against their defining densities, and the draw order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Generator } from '../../src/random/index.js';
import { drawNoise } from '../../src/training/noise.js';
import {
  allocationRatio,
  allocationSigmas,
  normalCdf,
  parseSigmaSampling,
} from '../../src/training/sigma-sampling.js';

const [SMIN, SMAX] = [0.01, 50];
const normalPdf = (x: number, m: number, s: number) =>
  Math.exp(-0.5 * ((x - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));

test('normalCdf matches reference values of Φ to 1e-14', () => {
  // Φ at these points, from the closed forms of erfc in mpmath (50 digits).
  const ref: [number, number][] = [
    [0, 0.5],
    [1, 0.8413447460685429],
    [-2, 0.022750131948179195],
    [-6, 9.865876450376946e-10],
    [3.5, 0.9997673709209645],
  ];
  for (const [x, p] of ref) assert.ok(Math.abs(normalCdf(x) - p) <= 1e-14 * p, `Φ(${x})`);
});

test("'log-uniform' draws exactly score_sde's t and σ, with or without the allocation given", () => {
  const shape = [6, 1, 2, 2] as const;
  const a = drawNoise(new Generator().manualSeed(3), shape, SMIN, SMAX);
  const b = drawNoise(new Generator().manualSeed(3), shape, SMIN, SMAX, parseSigmaSampling('log-uniform'));
  assert.deepEqual([...b.sigma], [...a.sigma]);
  assert.deepEqual([...b.t], [...a.t]);
  assert.deepEqual([...b.z], [...a.z]);
});

test('another allocation uses the same uniforms and leaves z unchanged (one rand(B), then randn)', () => {
  const shape = [5, 1, 2, 2] as const;
  const base = drawNoise(new Generator().manualSeed(9), shape, SMIN, SMAX);
  const edm = parseSigmaSampling('edm');
  const g = new Generator().manualSeed(9);
  const drawn = drawNoise(g, shape, SMIN, SMAX, edm);
  assert.deepEqual([...drawn.z], [...base.z]);
  // The same uniforms: recover them from score_sde's t = u·(1 − 1e-5) + 1e-5.
  const u = base.t.map((t) => (t - 1e-5) / (1 - 1e-5));
  const expect = allocationSigmas(edm, u, SMIN, SMAX);
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(drawn.sigma[i] / expect[i] - 1) < 1e-6);
  for (let i = 0; i < 5; i++)
    assert.ok(
      Math.abs(Math.exp(drawn.t[i] * Math.log(SMAX / SMIN)) * SMIN - drawn.sigma[i]) < 1e-4 * drawn.sigma[i],
    );
});

test("'edm' is EDM's log-normal times (σ² + σ_d²), truncated to the σ range", () => {
  const a = parseSigmaSampling('edm');
  const [m, s, sd] = [-1.2, 1.2, 0.5];
  const density = (y: number) => normalPdf(y, m, s) * (Math.exp(2 * y) + sd * sd);
  for (const [s1, s2] of [
    [0.05, 3],
    [1, 10],
    [20, 50],
  ]) {
    const got = allocationRatio(a, s1, SMIN, SMAX) / allocationRatio(a, s2, SMIN, SMAX);
    const want = density(Math.log(s1)) / density(Math.log(s2));
    assert.ok(Math.abs(got / want - 1) < 1e-12, `${s1}/${s2}: ${got} vs ${want}`);
  }
  // Custom parameters are the same family.
  const c = parseSigmaSampling('edm:0.5,2,1');
  const dc = (y: number) => normalPdf(y, 0.5, 2) * (Math.exp(2 * y) + 1);
  const got = allocationRatio(c, 0.1, SMIN, SMAX) / allocationRatio(c, 7, SMIN, SMAX);
  assert.ok(Math.abs(got / (dc(Math.log(0.1)) / dc(Math.log(7))) - 1) < 1e-12);
});

test('the allocation density integrates to 1 over ln σ and draws follow its CDF (inverse-CDF sampling)', () => {
  for (const spec of ['edm', 'log-normal:2.3,1.2', '0.4*log-uniform+0.6*log-normal:3,1', 'log-uniform']) {
    const a = parseSigmaSampling(spec);
    const [lo, hi] = [Math.log(SMIN), Math.log(SMAX)];
    const n = 4000;
    let integral = 0;
    for (let i = 0; i < n; i++)
      integral += allocationRatio(a, Math.exp(lo + ((i + 0.5) * (hi - lo)) / n), SMIN, SMAX) / n;
    assert.ok(Math.abs(integral - 1) < 1e-6, `${spec}: ∫ = ${integral}`);
    // σ(u) is the u-quantile: the density's integral up to ln σ(u) is u.
    for (const u of [0.01, 0.3, 0.5, 0.9, 0.999]) {
      const y = Math.log(allocationSigmas(a, [u], SMIN, SMAX)[0]);
      let cdf = 0;
      const k = 20000;
      for (let i = 0; i < k; i++) {
        const yi = lo + ((i + 0.5) * (y - lo)) / k;
        cdf += (allocationRatio(a, Math.exp(yi), SMIN, SMAX) / (hi - lo)) * ((y - lo) / k);
      }
      assert.ok(Math.abs(cdf - u) < 1e-5, `${spec}: CDF(σ(${u})) = ${cdf}`);
    }
  }
});

test('a mix gives each part its share of the draws', () => {
  const a = parseSigmaSampling('0.25*log-uniform+0.75*log-normal:3,0.5');
  const ln = parseSigmaSampling('log-normal:3,0.5');
  for (const s of [0.02, 1, 15, 40])
    assert.ok(
      Math.abs(allocationRatio(a, s, SMIN, SMAX) - (0.25 + 0.75 * allocationRatio(ln, s, SMIN, SMAX))) <
        1e-12,
    );
});

test('bad specs are refused with the spec and the accepted forms', () => {
  for (const spec of [
    '',
    'uniform',
    'edm:1,2',
    'log-normal:3',
    'log-normal:3,-1',
    '0*edm',
    'x*edm',
    'log-uniform:1',
  ])
    assert.throws(
      () => parseSigmaSampling(spec),
      /sigmaSampling .*use 'log-uniform'|sigmaSampling must be/,
      spec,
    );
  // A log-normal far outside the range has no mass there.
  assert.throws(
    () => allocationSigmas(parseSigmaSampling('log-normal:40,0.1'), [0.5], SMIN, SMAX),
    /puts no mass in \[0\.0100, 50\.0\]/,
  );
});
