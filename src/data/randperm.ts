/**
 * `torch.randperm(n, generator=g)` on CPU (torch 1.13 `randperm_cpu`), bit for bit: a Fisher–Yates shuffle
 * swapping i with i + (random() % (n - i)), one 32-bit mt19937 word per position but the last.
 */
import { Generator } from '../random/generator.js';

/** torch switches to a 64-bit draw at n >= UINT32_MAX / 20; datasets never get that large. */
export const RANDPERM_MAX_N = Math.floor(0xffffffff / 20) - 1;

export function randperm(n: number, generator: Generator): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > RANDPERM_MAX_N) {
    throw new RangeError(`randperm: n must be an integer in [0, ${RANDPERM_MAX_N}], got ${n}`);
  }
  if (!(generator instanceof Generator)) throw new TypeError('randperm: generator must be a Generator');
  const r = new Uint32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  for (let i = 0; i < n - 1; i++) {
    const z = i + (generator.nextUint32() % (n - i));
    const t = r[i];
    r[i] = r[z];
    r[z] = t;
  }
  return r;
}
