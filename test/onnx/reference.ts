/**
 * Direct (slow, float64) JavaScript references of the UNet's building blocks, written from the PyTorch
 * definitions, for the op-level tests. Tensors are row-major Float64Arrays with explicit dims.
 */
export interface Arr {
  data: Float64Array;
  dims: number[];
}

export const arr = (data: ArrayLike<number>, dims: number[]): Arr => ({
  data: Float64Array.from(data),
  dims,
});

/** A seeded uniform(-1, 1) array. */
export function randomArr(dims: number[], seed: number, scale = 1): Arr {
  let s = seed >>> 0;
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return { data, dims };
}

/** F.conv2d(x, w, b, stride, padding, groups) with NCHW / OIHW layouts. */
export function conv2d(x: Arr, w: Arr, b: Arr | null, stride = 1, pad = 0, groups = 1): Arr {
  const [n, c, h, wd] = x.dims;
  const [m, cg, kh, kw] = w.dims;
  const oh = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - kw) / stride) + 1;
  const out = new Float64Array(n * m * oh * ow);
  const mPerG = m / groups;
  for (let bi = 0; bi < n; bi++)
    for (let o = 0; o < m; o++) {
      const g = Math.floor(o / mPerG);
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let s = b ? b.data[o] : 0;
          for (let ci = 0; ci < cg; ci++) {
            const cin = g * cg + ci;
            for (let i = 0; i < kh; i++) {
              const iy = y * stride - pad + i;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = xx * stride - pad + j;
                if (ix < 0 || ix >= wd) continue;
                s += x.data[((bi * c + cin) * h + iy) * wd + ix] * w.data[((o * cg + ci) * kh + i) * kw + j];
              }
            }
          }
          out[((bi * m + o) * oh + y) * ow + xx] = s;
        }
    }
  return { data: out, dims: [n, m, oh, ow] };
}

/** torch.nn.GroupNorm (biased variance). */
export function groupNorm(x: Arr, groups: number, gamma: Arr, beta: Arr, eps: number): Arr {
  const [n, c] = x.dims;
  const hw = x.data.length / (n * c);
  const per = (c / groups) * hw;
  const out = new Float64Array(x.data.length);
  for (let bi = 0; bi < n; bi++)
    for (let g = 0; g < groups; g++) {
      const start = (bi * c + g * (c / groups)) * hw;
      let mean = 0;
      for (let i = 0; i < per; i++) mean += x.data[start + i];
      mean /= per;
      let v = 0;
      for (let i = 0; i < per; i++) v += (x.data[start + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / per + eps);
      for (let i = 0; i < per; i++) {
        const ch = g * (c / groups) + Math.floor(i / hw);
        out[start + i] = (x.data[start + i] - mean) * inv * gamma.data[ch] + beta.data[ch];
      }
    }
  return { data: out, dims: x.dims };
}

export const map = (x: Arr, f: (v: number, i: number) => number): Arr => ({
  data: x.data.map(f),
  dims: x.dims,
});
export const silu = (x: Arr): Arr => map(x, (v) => v / (1 + Math.exp(-v)));
export const add = (a: Arr, b: Arr): Arr => map(a, (v, i) => v + b.data[i]);

/**
 * upfirdn2d_native (diffusers): zero-insertion upsampling by `up`, pad (p0 before, p1 after), correlation with
 * the flipped kernel, then keep every `down`-th sample.
 */
export function upfirdn2d(
  x: Arr,
  kernel1d: number[],
  gain: number,
  up: number,
  down: number,
  p0: number,
  p1: number,
): Arr {
  const [n, c, h, w] = x.dims;
  const k = kernel1d.length;
  const sum = kernel1d.reduce((a, b) => a + b, 0);
  const k2 = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) k2[i * k + j] = ((kernel1d[i] * kernel1d[j]) / (sum * sum)) * gain;
  const uh = h * up + p0 + p1;
  const uw = w * up + p0 + p1;
  const oh = Math.floor((uh - k) / down) + 1;
  const ow = Math.floor((uw - k) / down) + 1;
  const out = new Float64Array(n * c * oh * ow);
  const at = (plane: number, y: number, xx: number) => {
    const yy = y - p0;
    const xq = xx - p0;
    if (yy < 0 || xq < 0 || yy % up || xq % up) return 0;
    const sy = yy / up;
    const sx = xq / up;
    return sy < h && sx < w ? x.data[plane * h * w + sy * w + sx] : 0;
  };
  for (let plane = 0; plane < n * c; plane++)
    for (let y = 0; y < oh; y++)
      for (let xx = 0; xx < ow; xx++) {
        let s = 0;
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++)
            s += at(plane, y * down + i, xx * down + j) * k2[(k - 1 - i) * k + (k - 1 - j)];
        out[(plane * oh + y) * ow + xx] = s;
      }
  return { data: out, dims: [n, c, oh, ow] };
}

/** Attention (_from_deprecated_attn_block): GroupNorm, q/k/v Linear, softmax(q kᵀ/√d), to_out, + x, / rescale. */
export function attention(
  x: Arr,
  p: Record<string, Arr>,
  heads: number,
  groups: number,
  eps: number,
  rescale: number,
): Arr {
  const [n, c, h, w] = x.dims;
  const hw = h * w;
  const d = c / heads;
  const normed = groupNorm(x, groups, p['group_norm.weight'], p['group_norm.bias'], eps);
  const lin = (name: string, src: Float64Array, bi: number, t: number, o: number) => {
    let s = p[`${name}.bias`].data[o];
    for (let i = 0; i < c; i++) s += p[`${name}.weight`].data[o * c + i] * src[(bi * c + i) * hw + t];
    return s;
  };
  const out = new Float64Array(x.data.length);
  for (let bi = 0; bi < n; bi++) {
    const q = Array.from({ length: hw }, (_, t) =>
      Array.from({ length: c }, (_, o) => lin('to_q', normed.data, bi, t, o)),
    );
    const k = Array.from({ length: hw }, (_, t) =>
      Array.from({ length: c }, (_, o) => lin('to_k', normed.data, bi, t, o)),
    );
    const v = Array.from({ length: hw }, (_, t) =>
      Array.from({ length: c }, (_, o) => lin('to_v', normed.data, bi, t, o)),
    );
    const att = Array.from({ length: hw }, () => new Float64Array(c));
    for (let hd = 0; hd < heads; hd++)
      for (let t = 0; t < hw; t++) {
        const sc = new Float64Array(hw);
        for (let u = 0; u < hw; u++) {
          let s = 0;
          for (let e = hd * d; e < (hd + 1) * d; e++) s += q[t][e] * k[u][e];
          sc[u] = s / Math.sqrt(d);
        }
        const mx = Math.max(...sc);
        let z = 0;
        for (let u = 0; u < hw; u++) z += sc[u] = Math.exp(sc[u] - mx);
        for (let e = hd * d; e < (hd + 1) * d; e++) {
          let s = 0;
          for (let u = 0; u < hw; u++) s += (sc[u] / z) * v[u][e];
          att[t][e] = s;
        }
      }
    for (let o = 0; o < c; o++)
      for (let t = 0; t < hw; t++) {
        let s = p['to_out.0.bias'].data[o];
        for (let i = 0; i < c; i++) s += p['to_out.0.weight'].data[o * c + i] * att[t][i];
        const idx = (bi * c + o) * hw + t;
        out[idx] = (s + x.data[idx]) / rescale;
      }
  }
  return { data: out, dims: x.dims };
}
