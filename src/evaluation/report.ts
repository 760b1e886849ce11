/** The evaluation report as a short terminal table. */
import type { EvaluationReport } from './evaluator.js';

const f = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
/**
 * Below this many images FD cannot rank models: with 128 features its small-sample bias dominates (the floor,
 * what real images score at that count, is 29.9 at 64 images, 8.2 at 200 and 1.6 at 1000 on Fashion-MNIST;
 * BENCHMARKS.md), so differences of several units are sampling noise.
 */
export const INDICATIVE_BELOW = 1000;

/** The report's warning for a small count; undefined from INDICATIVE_BELOW images on. */
export function smallCountNote(count: number, floor: number): string | undefined {
  if (count >= INDICATIVE_BELOW) return undefined;
  return `Note: ${count} images are too few to rank models; below ${INDICATIVE_BELOW} these numbers are only indicative (the floor, what real images score at this count, is ${f(floor)}: compare FD − floor, and use --count ${INDICATIVE_BELOW} or more to rank).`;
}

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
    `  floor: TV ${f(r.floorTotalVariation)} on ${r.count} training images; ${r.count} draws from uniform average ${f(r.uniformTotalVariation)}`,
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
  const note = smallCountNote(r.count, r.floorFrechetDistance);
  if (note) lines.push('', note);
  return lines.join('\n');
}
