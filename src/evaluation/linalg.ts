/**
 * Dense symmetric linear algebra in float64 for the Fréchet distance: a cyclic Jacobi eigendecomposition
 * (slow, O(n³) per sweep, but unconditionally stable and accurate to a few ulps of ‖A‖ for the 128×128
 * covariances used here) and the square root of a positive semi-definite matrix built from it.
 * Matrices are row-major n×n Float64Arrays.
 */

export interface SymmetricEigen {
  /** Eigenvalues in ascending order. */
  values: Float64Array;
  /** Eigenvectors as columns (row-major n×n): A = V diag(values) Vᵀ. */
  vectors: Float64Array;
}

/** Throws unless `a` is a finite, symmetric n×n matrix. */
export function assertSymmetric(a: Float64Array, n: number, name = 'matrix'): void {
  if (a.length !== n * n) throw new RangeError(`${name}: need ${n}×${n} = ${n * n} values, got ${a.length}`);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const x = a[i * n + j];
      const y = a[j * n + i];
      if (!Number.isFinite(x) || !Number.isFinite(y))
        throw new RangeError(`${name}: non-finite entry at (${i}, ${j})`);
      if (Math.abs(x - y) > 1e-12 * (Math.abs(x) + Math.abs(y)))
        throw new RangeError(`${name}: not symmetric at (${i}, ${j}): ${x} vs ${y}`);
    }
  }
}

/**
 * Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations (Numerical Recipes' `jacobi`, without
 * its early-sweep thresholds): each rotation zeroes one off-diagonal pair exactly, and sweeps repeat until
 * the off-diagonal mass is below double precision of the whole matrix. Numerical Recipes' routine kept as one
 * body, so it can be read against the book.
 */
export function symmetricEigen(matrix: Float64Array, n: number, maxSweeps = 100): SymmetricEigen {
  assertSymmetric(matrix, n);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i] * a[i];
  const tiny = total * (Number.EPSILON * Number.EPSILON) * 1e-2;

  let sweep = 0;
  for (; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off <= tiny) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // The rotation angle φ with cot 2φ = θ zeroes a[p][q]; t = tan φ, the smaller root (|φ| ≤ π/4).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t =
          Math.abs(theta) > 1e150
            ? 1 / (2 * theta)
            : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← Jᵀ A J: columns p, q, then rows p, q; V ← V J.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  if (sweep === maxSweeps) throw new Error(`symmetricEigen: no convergence after ${maxSweeps} sweeps`);

  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i] - a[j * n + j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = a[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

/** V diag(f(λ)) Vᵀ for a symmetric matrix A = V diag(λ) Vᵀ. */
export function symmetricFunction(
  { values, vectors }: SymmetricEigen,
  n: number,
  f: (lambda: number) => number,
): Float64Array {
  const fl = values.map(f);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += vectors[i * n + k] * fl[k] * vectors[j * n + k];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/**
 * The symmetric square root of a positive semi-definite matrix. Eigenvalues that rounding made slightly
 * negative are treated as 0 (a sample covariance with fewer samples than dimensions is singular).
 */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  return symmetricFunction(symmetricEigen(a, n), n, (l) => Math.sqrt(Math.max(l, 0)));
}

/** Row-major n×n product A·B. */
export function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}
