/** The evaluation report as a short terminal table. */
import type { EvaluationReport } from './evaluator.js';

const f = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

/** A few aligned lines: FD against its floor, the histogram, the memorisation check. */
export function formatReport(r: EvaluationReport, what = 'samples'): string {
  const h = r.labelHistogram;
  const width = Math.max(...h.classNames.map((n) => n.length));
  const lines = [
    `Fréchet distance (classifier features, ${r.count} ${what} vs ${r.referenceCount} test images)`,
    `  ${what.padEnd(22)}${f(r.frechetDistance)}`,
    `  ${'floor (train vs test)'.padEnd(22)}${f(r.floorFrechetDistance)}   ${r.count} training images`,
    '',
    `Label histogram (classifier on ${what})   TV to uniform ${f(h.totalVariation)}, KL ${f(h.klToUniform, 4)} nats`,
    ...h.classNames.map(
      (name, k) =>
        `  ${name.padEnd(width)}  ${String(h.counts[k]).padStart(6)}  ${(100 * h.frequencies[k]).toFixed(1).padStart(5)}%`,
    ),
    '',
    'Nearest training image (L2 in pixels)     mean    median  1st pct   min',
    `  ${what.padEnd(38)}${[r.nearestTrain.mean, r.nearestTrain.median, r.nearestTrain.p01, r.nearestTrain.min].map((x) => f(x).padStart(8)).join('')}`,
    `  ${'test images'.padEnd(38)}${[r.testNearestTrain.mean, r.testNearestTrain.median, r.testNearestTrain.p01, r.testNearestTrain.min].map((x) => f(x).padStart(8)).join('')}`,
  ];
  if (r.classifierTestAccuracy !== undefined)
    lines.push(
      '',
      `Classifier accuracy on the reference test images: ${(100 * r.classifierTestAccuracy).toFixed(2)}%`,
    );
  if (r.nonFinitePixels > 0)
    lines.push('', `Warning: ${r.nonFinitePixels} NaN pixels in the samples (counted as 0)`);
  return lines.join('\n');
}
