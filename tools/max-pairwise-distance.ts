/**
 * The largest pairwise Euclidean distance between Fashion-MNIST training images (pixels in [0, 1]), exact:
 * score_sde sets σ_max to about this value (src/evaluation/pairwise-distance.ts).
 * Usage: node --import tsx tools/max-pairwise-distance.ts [COUNT]
 *   COUNT: the first COUNT training images (default all 60,000)
 */
import { FASHION_MNIST_DIR, openFashionMnist } from '../src/evaluation/fashion-mnist.js';
import { maxPairwiseDistance } from '../src/evaluation/pairwise-distance.js';

const { train } = await openFashionMnist(FASHION_MNIST_DIR);
const n = process.argv[2] === undefined ? train.length : Number(process.argv[2]);
if (!Number.isInteger(n) || n < 2 || n > train.length)
  throw new RangeError(`COUNT must be a whole number from 2 to ${train.length}, got ${process.argv[2]}`);
const d = train.channels * train.height * train.width;
const images = new Float32Array(n * d);
for (let i = 0; i < n; i++) await train.read(i, images, i * d);
const start = performance.now();
const result = await maxPairwiseDistance(images, d, {
  onProgress: (done, total) => process.stderr.write(`\r${done}/${total} chunk pairs`),
});
const seconds = (performance.now() - start) / 1000;
process.stderr.write('\n');
console.log(`Fashion-MNIST train, ${n} images of ${d} pixels in [0, 1]:`);
console.log(`max pairwise distance ${result.distance.toFixed(6)} between images ${result.i} and ${result.j}`);
console.log(`(${result.candidates} rows re-checked exactly; ${seconds.toFixed(1)} s)`);
