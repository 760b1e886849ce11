import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SamplingProgress } from '../../src/cli/sampling-progress.js';
import type { PipelineStep } from '../../src/pipelines/index.js';
import { Tensor } from '../../src/tensor.js';
import { FakeStream } from './helpers.js';

const x = new Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
const step = (i: number, sigma: number, nfe: number): PipelineStep => ({
  step: i,
  totalSteps: 0,
  sigma,
  sample: x,
  sampleMean: x,
  nfe,
});

describe('SamplingProgress (the CLI bar for a run of batches)', () => {
  it('shows the whole run’s total from the start (heun: steps × batches)', () => {
    const stream = new FakeStream(true);
    const p = new SamplingProgress({ stream, disable: false, batches: 2, steps: 50 });
    assert.equal(stream.chunks[0], '\r  0%|          | 0/100 [00:00<?, ?step/s]');
    p.onStep(step(0, 80, 1));
    p.close();
    assert.match(stream.chunks.at(-2)!, /^\r {2}1%\|.*\| 1\/100 \[/);
  });

  it('ODE: counts network calls against an estimate shown as ~total', () => {
    const stream = new FakeStream(false);
    const ode = { sigmaMin: 0.01, sigmaMax: 1348, eps: 1e-5 };
    const p = new SamplingProgress({ stream, disable: false, batches: 2, ode });
    // The fraction done is linear in σ, from σmax down to σ(eps) = σmin·(σmax/σmin)^eps.
    const end = ode.sigmaMin * (ode.sigmaMax / ode.sigmaMin) ** ode.eps;
    const sigmaAt = (fraction: number) => ode.sigmaMax - fraction * (ode.sigmaMax - end);
    p.onStep(step(0, sigmaAt(0.01), 6)); // 1 % done: too early for an estimate
    assert.match(stream.chunks[0], /^6call \[/);
    stream.chunks.length = 0;
    p.close(); // (logs: prints the last state)
    const q = new SamplingProgress({ stream, disable: false, batches: 2, ode });
    q.onStep(step(0, sigmaAt(0.5), 60));
    // Half of the first of two batches done after 60 calls: about 240 in all.
    assert.match(stream.chunks.at(-1)!, /^ 25%\|.*\| 60\/~240 \[\d\d:\d\d<~\d\d:\d\d, /);
  });
});
