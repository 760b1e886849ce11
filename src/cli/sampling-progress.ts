/**
 * The command line's one progress bar for a whole run of several batches, fed by the pipeline's `onStep`.
 * Fixed-step samplers count steps against a total known from the start; the adaptive ODE sampler counts
 * network calls against an estimate, shown as `~total`.
 */
import type { PipelineStep } from '../pipelines/index.js';
import { ProgressBar, type ProgressStream } from '../progress.js';

export interface SamplingProgressOptions {
  stream: ProgressStream;
  disable: boolean;
  /** Batches this run will sample. */
  batches: number;
  /** Steps per batch, for fixed-step samplers; undefined for the adaptive ODE sampler. */
  steps?: number;
  /** ODE: the σ range it integrates over, σ_max down to σ(eps), to estimate how much is left. */
  ode?: { sigmaMin: number; sigmaMax: number; eps: number };
}

/**
 * ODE: the fraction of the integration done at noise level σ, linear in σ from σ_max down to σ(eps) =
 * σ_min·(σ_max/σ_min)^eps. RK45's accepted steps come out roughly even in σ (not in log σ, the SDE's time),
 * so calls so far / this fraction is a fair estimate of the calls in all.
 */
function odeFraction(sigma: number, o: NonNullable<SamplingProgressOptions['ode']>): number {
  const end = o.sigmaMin * (o.sigmaMax / o.sigmaMin) ** o.eps;
  return Math.min(Math.max((o.sigmaMax - sigma) / (o.sigmaMax - end), 0), 1);
}

/** Below this fraction done, an ODE estimate of the calls left is too noisy to show. */
const MIN_ODE_FRACTION = 0.05;

export class SamplingProgress {
  private readonly bar: ProgressBar;
  private readonly options: SamplingProgressOptions;
  /** Network calls of the batches already finished (ODE). */
  private callsBefore = 0;
  private batchesDone = 0;
  /** Network calls of the current batch so far (ODE). */
  private batchCalls = 0;

  constructor(options: SamplingProgressOptions) {
    this.options = options;
    const fixed = options.steps !== undefined;
    this.bar = new ProgressBar({
      stream: options.stream,
      disable: options.disable,
      unit: fixed ? 'step' : 'call',
      total: fixed ? options.steps! * options.batches : undefined,
      approximate: !fixed,
    });
  }

  /** One pipeline step of the current batch. */
  onStep = (s: PipelineStep): void => {
    const { ode } = this.options;
    if (ode === undefined) {
      this.bar.update(1);
      return;
    }
    this.batchCalls = s.nfe ?? 0;
    const calls = this.callsBefore + this.batchCalls;
    const fraction = odeFraction(s.sigma, ode);
    // Calls per batch: the mean of the finished batches, else this batch's rate so far (once it means something).
    const perBatch =
      this.batchesDone > 0
        ? this.callsBefore / this.batchesDone
        : fraction >= MIN_ODE_FRACTION
          ? this.batchCalls / fraction
          : undefined;
    if (perBatch !== undefined) {
      const left = this.options.batches - this.batchesDone;
      this.bar.total = Math.max(calls, Math.round(this.callsBefore + perBatch * left));
    }
    this.bar.update(calls - this.bar.n);
  };

  /** A batch is finished. */
  endBatch(): void {
    this.batchesDone++;
    this.callsBefore += this.batchCalls;
    this.batchCalls = 0;
  }

  close(): void {
    if (this.options.ode !== undefined && this.batchesDone === this.options.batches) {
      this.bar.total = this.bar.n;
    }
    this.bar.close();
  }
}
