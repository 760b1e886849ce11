/**
 * The classifier's label histogram of generated images against the uniform distribution of the balanced
 * data set: a sampler that drops or favours classes (mode collapse) shows here before it shows in the FD.
 */

export interface LabelHistogram {
  /** Images per predicted class. */
  counts: number[];
  /** counts / total. */
  frequencies: number[];
  /** Total-variation distance to uniform, ½ Σ |p_k − 1/K| ∈ [0, 1 − 1/K]. */
  totalVariation: number;
  /** KL(p ‖ uniform) = Σ p_k log(K p_k) in nats ∈ [0, log K] (0 log 0 = 0). */
  klToUniform: number;
}

/** Index of the largest of each row of `logits` (rows, numClasses); the first on ties (argmax). */
export function argmaxRows(logits: Float32Array, numClasses: number): Uint8Array {
  const rows = logits.length / numClasses;
  if (!Number.isInteger(rows))
    throw new RangeError(`argmaxRows: ${logits.length} values is not rows of ${numClasses}`);
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < numClasses; k++)
      if (logits[r * numClasses + k] > logits[r * numClasses + best]) best = k;
    out[r] = best;
  }
  return out;
}

/** The histogram of `labels` (each in [0, numClasses)) and its distances to uniform. */
export function labelHistogram(labels: ArrayLike<number>, numClasses: number): LabelHistogram {
  if (labels.length === 0) throw new RangeError('labelHistogram: no labels');
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    if (!Number.isInteger(k) || k < 0 || k >= numClasses)
      throw new RangeError(`labelHistogram: label ${k} at ${i} is not in [0, ${numClasses})`);
    counts[k]++;
  }
  const frequencies = counts.map((c) => c / labels.length);
  let totalVariation = 0;
  let klToUniform = 0;
  for (const p of frequencies) {
    totalVariation += Math.abs(p - 1 / numClasses);
    if (p > 0) klToUniform += p * Math.log(numClasses * p);
  }
  return { counts, frequencies, totalVariation: totalVariation / 2, klToUniform };
}

/** Top-1 accuracy: the share of rows of `logits` (rows, numClasses) whose argmax is the row's label. */
export function topOneAccuracy(logits: Float32Array, numClasses: number, labels: ArrayLike<number>): number {
  const predicted = argmaxRows(logits, numClasses);
  let right = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === labels[i]) right++;
  return right / predicted.length;
}

/**
 * The expected TV to uniform of `n` labels drawn from exactly the uniform distribution over `numClasses`: what a
 * perfect sampler scores on average at that count (sampling noise alone; 0.038 at 1000 labels of 10 classes).
 * Each count is Binomial(n, 1/K), so E[TV] = K · E|X − n/K| / (2n), summed over the binomial's pmf in log space.
 */
export function expectedUniformTotalVariation(n: number, numClasses: number): number {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`expectedUniformTotalVariation: n = ${n} is not ≥ 1`);
  if (!Number.isInteger(numClasses) || numClasses < 2)
    throw new RangeError(`expectedUniformTotalVariation: numClasses = ${numClasses} is not ≥ 2`);
  const p = 1 / numClasses;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logChoose = 0; // log C(n, k), updated k by k
  let meanAbs = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logChoose += Math.log(n - k + 1) - Math.log(k);
    meanAbs += Math.exp(logChoose + k * logP + (n - k) * logQ) * Math.abs(k - n * p);
  }
  return (numClasses * meanAbs) / (2 * n);
}
