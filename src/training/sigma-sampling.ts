/**
 * How training draws the noise level σ of each row: the share of the training budget each σ gets.
 *
 * score_sde's loss ½‖σ·score + z‖² equals ½‖D − x0‖²/σ² (D(x) = x + σ²·score, the denoiser). Drawing
 * t ~ U(eps, 1) and σ = σ_min(σ_max/σ_min)^t (log-uniform σ, score_sde's default) gives every octave of σ the
 * same share, so the large σ, where the denoiser's error is multiplied by σ² in the sampler, get about 1 % of
 * the loss. The other allocations draw ln σ from a (mixture of) normal distribution(s), truncated to
 * [σ_min, σ_max], by inverting its CDF at one uniform per row: they consume the generator exactly as the
 * default does (one rand(B), then randn for z), and the loss keeps its weight 1 (sampling σ in proportion to
 * an allocation has lower variance than weighting the loss).
 *
 * - `log-uniform`: score_sde (the default; old runs resume with it).
 * - `edm` or `edm:MEAN,STD,SIGMA_DATA`: EDM's (Karras et al. 2022) allocation in our loss. EDM's loss
 *   λ(σ)‖D − x0‖², λ = (σ² + σ_d²)/(σ·σ_d)², ln σ ~ N(P_mean, P_std²), is score_sde's loss times
 *   w(σ) = (σ² + σ_d²)/σ_d² under EDM's σ distribution; N(ln σ; m, s²)·(σ² + σ_d²) is a mixture of N(m, s²)
 *   with weight σ_d² and N(m + 2s², s²) with weight e^{2m + 2s²}. Defaults −1.2, 1.2, 0.5.
 * - `log-normal:MEAN,STD`: ln σ ~ N(MEAN, STD²).
 * - Parts joined by `+`, each with its share of the draws: `0.5*log-uniform+0.5*log-normal:2.3,1`.
 */
import { ConfigError } from '../errors.js';

/** A density over ln σ as a weighted sum of normals (unnormalised weights). */
interface NormalSum {
  readonly terms: readonly { weight: number; mean: number; std: number }[];
}

/** One part of an allocation; `share` is its fraction of the draws within [σ_min, σ_max]. */
export type SigmaComponent =
  | { kind: 'log-uniform'; share: number }
  | { kind: 'normals'; share: number; name: string; density: NormalSum };

/**
 * A parsed allocation: parts joined by '+', each optionally prefixed by its share of the draws ('0.5*'), e.g.
 * '0.5*log-uniform+0.5*log-normal:2.3,1'. A lone 'log-uniform' is score_sde's exact draw.
 */
export interface SigmaAllocation {
  readonly spec: string;
  readonly components: readonly SigmaComponent[];
}

export const DEFAULT_SIGMA_SAMPLING = 'log-uniform';

const SPEC_HELP =
  "'log-uniform', 'edm', 'edm:MEAN,STD,SIGMA_DATA', 'log-normal:MEAN,STD' or a mix such as '0.5*log-uniform+0.5*edm'";

/** Parses a `sigmaSampling` spec (see the module comment); throws a ConfigError naming the spec. */
export function parseSigmaSampling(spec: string): SigmaAllocation {
  if (typeof spec !== 'string' || spec === '')
    throw new ConfigError(`train: sigmaSampling must be ${SPEC_HELP}, got ${JSON.stringify(spec)}`);
  const bad = (why: string) => new ConfigError(`train: sigmaSampling '${spec}': ${why} (use ${SPEC_HELP})`);
  const parts = spec.split('+');
  const components = parts.map((part): SigmaComponent => {
    const star = part.indexOf('*');
    const share = star < 0 ? 1 / parts.length : Number(part.slice(0, star));
    if (!(share > 0 && Number.isFinite(share)))
      throw bad(`the share '${part.slice(0, star)}' must be a number > 0`);
    const body = part.slice(star + 1).trim();
    const [name, argText] = body.split(':', 2) as [string, string | undefined];
    const args = argText === undefined ? [] : argText.split(',').map((a) => Number(a.trim()));
    if (args.some((a) => !Number.isFinite(a)))
      throw bad(`the parameters of '${body}' must be finite numbers`);
    switch (name) {
      case 'log-uniform':
        if (args.length > 0) throw bad('log-uniform takes no parameters');
        return { kind: 'log-uniform', share };
      case 'edm': {
        if (args.length !== 0 && args.length !== 3) throw bad('edm takes none or 3 parameters');
        const [mean, std, sigmaData] = args.length === 3 ? args : [-1.2, 1.2, 0.5];
        if (!(std > 0) || !(sigmaData > 0)) throw bad('STD and SIGMA_DATA must be > 0');
        // N(ln σ; m, s²)·(σ² + σ_d²) = σ_d²·N(m, s²) + e^{2m + 2s²}·N(m + 2s², s²).
        const terms = [
          { weight: sigmaData * sigmaData, mean, std },
          { weight: Math.exp(2 * mean + 2 * std * std), mean: mean + 2 * std * std, std },
        ];
        return { kind: 'normals', share, name: body, density: { terms } };
      }
      case 'log-normal': {
        if (args.length !== 2) throw bad('log-normal takes 2 parameters');
        const [mean, std] = args;
        if (!(std > 0)) throw bad('STD must be > 0');
        return { kind: 'normals', share, name: body, density: { terms: [{ weight: 1, mean, std }] } };
      }
      default:
        throw bad(`unknown allocation '${name}'`);
    }
  });
  return { spec, components };
}

/** True when the allocation is score_sde's own log-uniform draw (done in exact float32, as score_sde). */
export function isScoreSdeDraw(allocation: SigmaAllocation): boolean {
  return allocation.components.length === 1 && allocation.components[0].kind === 'log-uniform';
}

/** The standard normal CDF, Φ(x) = erfc(−x/√2)/2, to about 1e-15 relative (W. J. Cody's rational erfc). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function erfc(x: number): number {
  // Numerical Recipes' erfc via Chebyshev fit (erfccheb), accurate to ~1.2e-16 relative for x ≥ 0.
  if (x < 0) return 2 - erfc(-x);
  const t = 2 / (2 + x);
  const ty = 4 * t - 2;
  let d = 0;
  let dd = 0;
  for (let j = ERFC_COEFFS.length - 1; j > 0; j--) {
    const tmp = d;
    d = ty * d - dd + ERFC_COEFFS[j];
    dd = tmp;
  }
  return t * Math.exp(-x * x + 0.5 * (ERFC_COEFFS[0] + ty * d) - dd);
}

const ERFC_COEFFS = [
  -1.3026537197817094, 0.6419697923564902, 1.9476473204185836e-2, -9.561514786808631e-3, -9.46595344482036e-4,
  3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6, 1.30365583558e-6,
  1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10,
  9.6467911e-11, 2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15,
  -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
];

/** The CDF over ln σ ∈ [lo, hi] of an allocation (0 at lo, 1 at hi) and its density, both normalised there. */
function allocationCdf(allocation: SigmaAllocation, lo: number, hi: number) {
  const total = allocation.components.reduce((s, c) => s + c.share, 0);
  const parts = allocation.components.map((c) => {
    if (c.kind === 'log-uniform')
      return { share: c.share, cdf: (y: number) => (y - lo) / (hi - lo), pdf: () => 1 / (hi - lo) };
    const raw = (y: number) => {
      let s = 0;
      for (const t of c.density.terms) s += t.weight * normalCdf((y - t.mean) / t.std);
      return s;
    };
    const rawLo = raw(lo);
    const mass = raw(hi) - rawLo;
    if (!(mass > 1e-12))
      throw new ConfigError(
        `train: sigmaSampling '${c.name}' puts no mass in [${Math.exp(lo).toPrecision(3)}, ${Math.exp(hi).toPrecision(3)}]; move its MEAN into that range`,
      );
    const pdf = (y: number) => {
      let s = 0;
      for (const t of c.density.terms)
        s += (t.weight * Math.exp(-0.5 * ((y - t.mean) / t.std) ** 2)) / (t.std * Math.sqrt(2 * Math.PI));
      return s / mass;
    };
    return { share: c.share, cdf: (y: number) => (raw(y) - rawLo) / mass, pdf };
  });
  return {
    cdf: (y: number) => parts.reduce((s, p) => s + p.share * p.cdf(y), 0) / total,
    pdf: (y: number) => parts.reduce((s, p) => s + p.share * p.pdf(y), 0) / total,
  };
}

/**
 * σ for each uniform u ∈ [0, 1): the allocation's inverse CDF on [σ_min, σ_max], by bisection on ln σ in
 * float64 (deterministic: no maths beyond V8's own exp), rounded to float32.
 */
export function allocationSigmas(
  allocation: SigmaAllocation,
  u: ArrayLike<number>,
  sigmaMin: number,
  sigmaMax: number,
): Float32Array {
  const lo = Math.log(sigmaMin);
  const hi = Math.log(sigmaMax);
  const { cdf } = allocationCdf(allocation, lo, hi);
  return Float32Array.from(u, (ui) => {
    let a = lo;
    let b = hi;
    for (let i = 0; i < 60; i++) {
      const m = 0.5 * (a + b);
      if (cdf(m) < ui) a = m;
      else b = m;
    }
    return Math.fround(Math.exp(0.5 * (a + b)));
  });
}

/** The allocation's density over ln σ at σ, relative to log-uniform's on the same range (1 = score_sde's share). */
export function allocationRatio(
  allocation: SigmaAllocation,
  sigma: number,
  sigmaMin: number,
  sigmaMax: number,
): number {
  const lo = Math.log(sigmaMin);
  const hi = Math.log(sigmaMax);
  return allocationCdf(allocation, lo, hi).pdf(Math.log(sigma)) * (hi - lo);
}
