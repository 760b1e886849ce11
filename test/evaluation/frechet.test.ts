import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frechetDistance } from '../../src/evaluation/frechet.js';
import { matmul, sqrtPsd, symmetricEigen } from '../../src/evaluation/linalg.js';
import { type FeatureStatistics, featureStatistics } from '../../src/evaluation/statistics.js';
import { Generator, randn } from '../../src/random/index.js';

/** A seeded standard-normal matrix (rows, cols) in float64. */
function normal(rows: number, cols: number, seed: number): Float64Array {
  return Float64Array.from(randn([rows, cols], { generator: new Generator().manualSeed(seed) }).data);
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

/** A random orthogonal matrix: Gram–Schmidt on a Gaussian matrix's columns. */
function orthogonal(n: number, seed: number): Float64Array {
  const a = normal(n, n, seed);
  for (let j = 0; j < n; j++) {
    for (let p = 0; p < j; p++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += a[i * n + j] * a[i * n + p];
      for (let i = 0; i < n; i++) a[i * n + j] -= d * a[i * n + p];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += a[i * n + j] ** 2;
    for (let i = 0; i < n; i++) a[i * n + j] /= Math.sqrt(norm);
  }
  return a;
}

/** Q diag(d) Qᵀ. */
function withSpectrum(q: Float64Array, d: number[]): Float64Array {
  const n = d.length;
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = q[i * n + j] * d[j];
  const out = matmul(qd, transpose(q, n), n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[i * n + j] = out[j * n + i];
  return out;
}

/** A random symmetric positive-definite matrix G Gᵀ / n + εI. */
function randomSpd(n: number, seed: number, eps = 0.1): Float64Array {
  const g = normal(n, n, seed);
  const out = matmul(g, transpose(g, n), n);
  for (let i = 0; i < n * n; i++) out[i] /= n;
  for (let i = 0; i < n; i++) out[i * n + i] += eps;
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[i * n + j] = out[j * n + i];
  return out;
}

const stats = (mean: number[], cov: Float64Array): FeatureStatistics => ({
  dim: mean.length,
  count: 2,
  mean: Float64Array.from(mean),
  cov,
});

const maxAbs = (a: Float64Array, b: Float64Array) =>
  a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Gauss–Jordan inverse with partial pivoting (test-only, small n). */
function inverse(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
      [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k], inv[c * n + k]];
    }
    const d = m[c * n + c];
    for (let k = 0; k < n; k++) {
      m[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (let k = 0; k < n; k++) {
        m[r * n + k] -= f * m[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

/** Principal square root of a (non-symmetric) matrix with positive eigenvalues: Denman–Beavers iteration. */
function sqrtmDenmanBeavers(a: Float64Array, n: number): Float64Array {
  let y = Float64Array.from(a);
  let z = new Float64Array(n * n);
  for (let i = 0; i < n; i++) z[i * n + i] = 1;
  for (let k = 0; k < 100; k++) {
    const yi = inverse(y, n);
    const zi = inverse(z, n);
    const y2 = y.map((v, i) => 0.5 * (v + zi[i]));
    const z2 = z.map((v, i) => 0.5 * (v + yi[i]));
    const done = maxAbs(y, y2) < 1e-15 * Math.max(...y2.map(Math.abs));
    y = y2;
    z = z2;
    if (done) break;
  }
  return y;
}

describe('symmetricEigen (Jacobi)', () => {
  it('recovers a known spectrum and orthonormal eigenvectors, including repeated eigenvalues', () => {
    const n = 12;
    const q = orthogonal(n, 1);
    const spectrum = [5, 5, 5, 3, 2, 2, 1, 0.5, 0.25, 1e-3, 0, 0];
    const a = withSpectrum(q, spectrum);
    const { values, vectors } = symmetricEigen(a, n);
    const expected = Float64Array.from(spectrum).sort();
    assert.ok(maxAbs(values, expected) < 1e-13, `eigenvalues off by ${maxAbs(values, expected)}`);
    const vtv = matmul(transpose(vectors, n), vectors, n);
    const eye = new Float64Array(n * n).map((_, i) => (i % (n + 1) === 0 ? 1 : 0));
    assert.ok(maxAbs(vtv, eye) < 1e-13, 'VᵀV = I');
    const back = withSpectrum(vectors, [...values]);
    assert.ok(maxAbs(back, a) < 1e-13, 'V Λ Vᵀ = A');
  });

  it('sqrtPsd squares back to the matrix, and treats a rounding-negative eigenvalue as 0', () => {
    const n = 20;
    const a = randomSpd(n, 2);
    const s = sqrtPsd(a, n);
    assert.ok(maxAbs(matmul(s, s, n), a) < 1e-13);
    const singular = withSpectrum(orthogonal(3, 3), [4, 1, -1e-17]);
    const r = sqrtPsd(singular, 3);
    assert.ok(r.every(Number.isFinite));
    assert.ok(maxAbs(matmul(r, r, 3), singular) < 1e-14);
  });

  it('refuses a non-symmetric or non-finite matrix', () => {
    assert.throws(() => symmetricEigen(Float64Array.from([1, 2, 3, 4]), 2), /not symmetric/);
    assert.throws(() => symmetricEigen(Float64Array.from([1, Number.NaN, Number.NaN, 1]), 2), /non-finite/);
    assert.throws(() => symmetricEigen(Float64Array.from([1, 2, 3]), 2), /need 2×2/);
  });
});

describe('frechetDistance', () => {
  it('is ‖μ₁ − μ₂‖² + Σ (√a − √b)² for diagonal covariances', () => {
    const a = [4, 1, 0.25, 9, 0];
    const b = [1, 1, 4, 0.01, 2];
    const diag = (d: number[]) => {
      const m = new Float64Array(d.length * d.length);
      d.forEach((v, i) => {
        m[i * d.length + i] = v;
      });
      return m;
    };
    const mu1 = [0, 1, 2, 3, 4];
    const mu2 = [1, 1, 0, 3, -1];
    const exact = 1 + 4 + 25 + a.reduce((s, v, i) => s + (Math.sqrt(v) - Math.sqrt(b[i])) ** 2, 0);
    const fd = frechetDistance(stats(mu1, diag(a)), stats(mu2, diag(b)));
    assert.ok(Math.abs(fd - exact) < 1e-12 * exact, `${fd} vs ${exact}`);
  });

  it('has the same closed form for commuting covariances Q diag(a) Qᵀ, Q diag(b) Qᵀ', () => {
    const n = 16;
    const q = orthogonal(n, 4);
    const a = Array.from({ length: n }, (_, i) => 0.1 + i * 0.37);
    const b = Array.from({ length: n }, (_, i) => 3 / (1 + i));
    const exact = a.reduce((s, v, i) => s + (Math.sqrt(v) - Math.sqrt(b[i])) ** 2, 0);
    const zero = new Array<number>(n).fill(0);
    const fd = frechetDistance(stats(zero, withSpectrum(q, a)), stats(zero, withSpectrum(q, b)));
    assert.ok(Math.abs(fd - exact) < 1e-11 * exact, `${fd} vs ${exact}`);
  });

  it('matches tr√(C₁C₂) = √(tr C₁C₂ + 2√det C₁C₂) for random 2×2 covariances', () => {
    for (let seed = 10; seed < 20; seed++) {
      const c1 = randomSpd(2, seed, 0.01);
      const c2 = randomSpd(2, seed + 100, 0.01);
      const p = matmul(c1, c2, 2);
      const trSqrt = Math.sqrt(p[0] + p[3] + 2 * Math.sqrt(p[0] * p[3] - p[1] * p[2]));
      const exact = c1[0] + c1[3] + c2[0] + c2[3] - 2 * trSqrt + 0.5 ** 2 + 0.25 ** 2;
      const fd = frechetDistance(stats([0.5, 0], c1), stats([0, 0.25], c2));
      assert.ok(Math.abs(fd - exact) < 1e-12 * Math.max(1, exact), `seed ${seed}: ${fd} vs ${exact}`);
    }
  });

  it('matches pytorch-fid’s form tr sqrtm(C₁C₂) by Denman–Beavers for random 10×10 covariances', () => {
    const n = 10;
    const c1 = randomSpd(n, 30);
    const c2 = randomSpd(n, 31);
    const root = sqrtmDenmanBeavers(matmul(c1, c2, n), n);
    let trRoot = 0;
    let traces = 0;
    for (let i = 0; i < n; i++) {
      trRoot += root[i * n + i];
      traces += c1[i * n + i] + c2[i * n + i];
    }
    const mu1 = Array.from({ length: n }, (_, i) => i / n);
    const mu2 = Array.from({ length: n }, (_, i) => -i / n);
    const meanTerm = mu1.reduce((s, v, i) => s + (v - mu2[i]) ** 2, 0);
    const brute = meanTerm + traces - 2 * trRoot;
    const fd = frechetDistance(stats(mu1, c1), stats(mu2, c2));
    assert.ok(Math.abs(fd - brute) < 1e-10 * brute, `${fd} vs ${brute}`);
    // Symmetric in its arguments, 0 against itself.
    assert.ok(Math.abs(frechetDistance(stats(mu2, c2), stats(mu1, c1)) - fd) < 1e-10 * fd);
    assert.ok(Math.abs(frechetDistance(stats(mu1, c1), stats(mu1, c1))) < 1e-12);
  });

  it('is finite and correct with a singular covariance (fewer samples than dimensions)', () => {
    const n = 8;
    const q = orthogonal(n, 5);
    const a = [0, 0, 0, 1, 2, 3, 4, 5];
    const b = [1, 1, 1, 1, 1, 1, 1, 1];
    const exact = a.reduce((s, v, i) => s + (Math.sqrt(v) - Math.sqrt(b[i])) ** 2, 0);
    const zero = new Array<number>(n).fill(0);
    const fd = frechetDistance(stats(zero, withSpectrum(q, a)), stats(zero, withSpectrum(q, b)));
    assert.ok(Math.abs(fd - exact) < 1e-7, `${fd} vs ${exact}`);
  });
});

describe('featureStatistics', () => {
  it('is the mean and the unbiased covariance (numpy np.cov, rowvar=False)', () => {
    const x = Float32Array.from([1, 2, 3, 5, 0, -1, 2, 2]); // 4 rows of 2
    const s = featureStatistics(x, 2);
    assert.deepEqual([...s.mean], [1.5, 2]);
    // centred: (−0.5, 0), (1.5, 3), (−1.5, −3), (0.5, 0) → sums 5, 9, 18 over n − 1 = 3
    assert.deepEqual([...s.cov], [5 / 3, 3, 3, 6]);
    assert.equal(s.count, 4);
  });

  it('FD of two large samples of N(μ, C) and N(μ′, C′) approaches the exact Gaussian FD', () => {
    const d = 3;
    const rows = 20000;
    const z1 = normal(rows, d, 40);
    const z2 = normal(rows, d, 41);
    // x = μ + L z with L diagonal, so the exact FD is known in closed form.
    const l1 = [1, 2, 0.5];
    const l2 = [1.5, 1, 0.5];
    const x1 = new Float32Array(rows * d);
    const x2 = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) {
        x1[r * d + j] = l1[j] * z1[r * d + j];
        x2[r * d + j] = 1 + l2[j] * z2[r * d + j];
      }
    }
    const exact = 3 + l1.reduce((s, v, j) => s + (v - l2[j]) ** 2, 0);
    const fd = frechetDistance(featureStatistics(x1, d), featureStatistics(x2, d));
    assert.ok(Math.abs(fd - exact) < 0.1, `${fd} vs ${exact}`);
  });

  it('refuses fewer than 2 rows or a ragged buffer', () => {
    assert.throws(() => featureStatistics(new Float32Array(3), 3), /at least 2 rows/);
    assert.throws(() => featureStatistics(new Float32Array(7), 3), /at least 2 rows/);
  });
});
