/**
 * torch 1.13's float32 CPU reductions that ScoreSdeVeScheduler.step_correct uses, in torch's own summation
 * order (AVX2 dispatch), so the corrector's step size comes out bit-exact:
 * `torch.norm(x.reshape(B, -1), dim=-1)` and `.mean()` over the B norms.
 */
import { fmaF32 } from '../math/float32.js';

/** Lanes of torch's `Vectorized<float>` on AVX2. */
const VEC = 8;

/**
 * Euclidean norm of each of the `batch` contiguous rows of `data` (float32), as torch's
 * `norm_kernel_tensor_iterator_impl` fast path for p = 2 over the last dim computes it: 8 lane accumulators
 * (`acc += x·x`, fused into an FMA by the compiler), summed lane 0 + 1 + … + 7, then the `n mod 8` tail, then sqrtf.
 */
export function torchRowNorms2F32(data: Float32Array, batch: number): Float32Array {
  const rowSize = batch === 0 ? 0 : data.length / batch;
  if (!Number.isInteger(rowSize)) {
    throw new RangeError(`torchRowNorms2F32: ${data.length} elements do not split into ${batch} rows`);
  }
  const out = new Float32Array(batch);
  const acc = new Float64Array(VEC); // the accumulator vector's lanes (float32 values)
  const vecEnd = rowSize - (rowSize % VEC);
  for (let b = 0; b < batch; b++) {
    const off = b * rowSize;
    acc.fill(0);
    for (let d = 0; d < vecEnd; d += VEC) {
      for (let j = 0; j < VEC; j++) {
        const x = data[off + d + j];
        acc[j] = fmaF32(x, x, acc[j]);
      }
    }
    let total = acc[0];
    for (let j = 1; j < VEC; j++) total = Math.fround(total + acc[j]);
    for (let d = vecEnd; d < rowSize; d++) {
      const x = data[off + d];
      total = fmaF32(x, x, total);
    }
    out[b] = Math.sqrt(total);
  }
  return out;
}

/**
 * `x.sum()` of a contiguous float32 vector as torch's `cascade_sum` computes it: a 4-way multi-row sum with
 * cascaded levels (`row_sum`), run per lane over 8-wide vectors when there are at least 8 elements.
 */
export function torchSumF32(x: Float32Array): number {
  const n = x.length;
  if (n < VEC) return rowSum((i) => x[i], n);
  // vectorized_inner_sum: lanes are independent, so a vector row_sum is 8 scalar row_sums over strided loads.
  const vecSize = Math.floor(n / VEC);
  let total = 0;
  for (let k = vecSize * VEC; k < n; k++) total = Math.fround(total + x[k]);
  for (let lane = 0; lane < VEC; lane++)
    total = Math.fround(total + rowSum((i) => x[i * VEC + lane], vecSize));
  return total;
}

/** `x.mean()` of a float32 vector: torch's CPU mean is the sum divided by the count. */
export function torchMeanF32(x: Float32Array): number {
  return Math.fround(torchSumF32(x) / x.length);
}

/** torch's `row_sum`: multi_row_sum over 4 interleaved rows, the leftover elements into row 0, then rows 0+1+2+3. */
function rowSum(load: (i: number) => number, size: number): number {
  const ILP = 4;
  const sizeIlp = Math.floor(size / ILP);
  const partial = multiRowSum((i, k) => load(i * ILP + k), ILP, sizeIlp);
  for (let i = sizeIlp * ILP; i < size; i++) partial[0] = Math.fround(partial[0] + load(i));
  for (let k = 1; k < ILP; k++) partial[0] = Math.fround(partial[0] + partial[k]);
  return partial[0];
}

/**
 * torch's `multi_row_sum`: sums `size` entries of `nrows` rows with 4 cascade levels; level 0 takes
 * 2^levelPower entries at a time before it is folded into level 1, and so on (pairwise-like accuracy).
 */
function multiRowSum(load: (i: number, k: number) => number, nrows: number, size: number): Float64Array {
  const NUM_LEVELS = 4;
  const levelPower = Math.max(4, Math.floor(ceilLog2(size) / NUM_LEVELS));
  const levelStep = 2 ** levelPower;
  const acc = Array.from({ length: NUM_LEVELS }, () => new Float64Array(nrows));
  let i = 0;
  while (i + levelStep <= size) {
    for (let j = 0; j < levelStep; j++, i++) {
      for (let k = 0; k < nrows; k++) acc[0][k] = Math.fround(acc[0][k] + load(i, k));
    }
    for (let j = 1; j < NUM_LEVELS; j++) {
      for (let k = 0; k < nrows; k++) {
        acc[j][k] = Math.fround(acc[j][k] + acc[j - 1][k]);
        acc[j - 1][k] = 0;
      }
      // Carry into level j + 1 only when level j has completed a full round (i & (mask << j·power) == 0).
      if (Math.floor(i / 2 ** (j * levelPower)) % levelStep !== 0) break;
    }
  }
  for (; i < size; i++) {
    for (let k = 0; k < nrows; k++) acc[0][k] = Math.fround(acc[0][k] + load(i, k));
  }
  for (let j = 1; j < NUM_LEVELS; j++) {
    for (let k = 0; k < nrows; k++) acc[0][k] = Math.fround(acc[0][k] + acc[j][k]);
  }
  return acc[0];
}

/** c10's CeilLog2: 1 for x ≤ 2, else ⌈log2 x⌉. */
function ceilLog2(x: number): number {
  if (x <= 2) return 1;
  return 32 - Math.clz32(x - 1);
}
