/**
 * The analytic references themselves: the mixture's score is the gradient of its noised log-density, the VJP
 * is the directional derivative of the score, and the exact trace is the sum of the basis VJPs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mixtureLogDensity, mixtureScoreTrace, mixtureScoreVjp } from '../../src/likelihood/index.js';
import { gaussianMixtureScore } from '../../src/samplers/analytic.js';
import { Tensor } from '../../src/tensor.js';
import { DIMS, images8bit, mixtureSpec } from './problems.js';

const fn = mixtureScoreVjp(mixtureSpec());
const x = images8bit(2);
const D = 16;
const zero = () => new Tensor('float32', new Float32Array(2 * D), x.dims);

describe('mixture score, VJP and trace', () => {
  for (const sigma of [0.05, 0.3, 3]) {
    it(`σ = ${sigma}: score = samplers' gaussianMixtureScore = ∇ log p_σ (central differences)`, async () => {
      const sig = new Float32Array(2).fill(sigma);
      const { score } = await fn(x, sig, zero());
      const ref = await gaussianMixtureScore(mixtureSpec())(x, sig);
      const scale = Math.max(...score.data.map(Math.abs));
      for (let i = 0; i < score.numel; i++) assert.ok(Math.abs(score.data[i] - ref.data[i]) <= 1e-6 * scale);
      const h = 1e-5;
      const xd = Float64Array.from(x.data);
      for (let i = 0; i < 2 * D; i += 5) {
        const p = Float64Array.from(xd);
        const m = Float64Array.from(xd);
        p[i] += h;
        m[i] -= h;
        const b = Math.floor(i / D);
        const fd =
          (mixtureLogDensity(fn.model, p, sigma)[b] - mixtureLogDensity(fn.model, m, sigma)[b]) / (2 * h);
        assert.ok(Math.abs(fd - score.data[i]) <= 1e-5 * scale, `${i}: ${fd} vs ${score.data[i]}`);
      }
    });

    it(`σ = ${sigma}: VJP = directional derivative of the score; Σ basis VJPs = exact trace`, async () => {
      const sig = new Float32Array(2).fill(sigma);
      const v = new Tensor(
        'float32',
        Float32Array.from({ length: 2 * D }, (_, i) => Math.cos(3.1 * i)),
        x.dims,
      );
      const { vjp } = await fn(x, sig, v);
      const h = 1e-3 * sigma;
      const shifted = (sign: number) =>
        new Tensor(
          'float32',
          Float32Array.from(x.data, (xi, i) => xi + sign * h * v.data[i]),
          x.dims,
        );
      const sp = (await fn(shifted(1), sig, zero())).score.data;
      const sm = (await fn(shifted(-1), sig, zero())).score.data;
      const scale = Math.max(...vjp.data.map(Math.abs));
      for (let i = 0; i < vjp.numel; i++) {
        const fd = (sp[i] - sm[i]) / (2 * h);
        assert.ok(Math.abs(fd - vjp.data[i]) <= 2e-3 * scale, `${i}: ${fd} vs ${vjp.data[i]}`);
      }
      const trace = new Float64Array(2);
      for (let j = 0; j < D; j++) {
        const e = zero();
        e.data[j] = 1;
        e.data[D + j] = 1;
        const out = (await fn(x, sig, e)).vjp.data;
        trace[0] += out[j];
        trace[1] += out[D + j];
      }
      const exact = mixtureScoreTrace(fn.model, x.data, sigma);
      for (let b = 0; b < 2; b++) assert.ok(Math.abs(trace[b] - exact[b]) <= 1e-5 * Math.abs(exact[b]));
    });
  }

  it('the log-density of a single Gaussian is N(μ, (s² + σ²)·I)', () => {
    const g = mixtureScoreVjp({ means: [0.5], stds: [0.2], dims: DIMS });
    const v = 0.04 + 0.25;
    let q = 0;
    for (let i = 0; i < D; i++) q += (x.data[i] - 0.5) ** 2;
    const ref = -0.5 * D * Math.log(2 * Math.PI * v) - q / (2 * v);
    assert.ok(
      Math.abs(mixtureLogDensity(g.model, x.data.subarray(0, D), 0.5)[0] - ref) < 1e-12 * Math.abs(ref),
    );
  });
});
