/**
 * UNet2DModel weights: the state dict the architecture expects (names and shapes, taken from the graph
 * builder itself), diffusers' on-load renames, and the missing / unexpected / mismatched check.
 */
import { toFloat32 } from '../../io/weights.js';
import type { GraphBuilder } from '../../onnx/graph.js';
import type { Tensor } from '../../tensor.js';
import { buildUnetGraph } from './build.js';
import { minimalSize, type UNet2DConfig } from './config.js';
import type { ParamSource } from './layers.js';

export type StateDict = Map<string, Tensor<'float32'>>;

/** 2022-era attention names → diffusers 0.23 names (`_convert_deprecated_attention_blocks`). */
const LEGACY_ATTENTION: Record<string, string> = {
  query: 'to_q',
  key: 'to_k',
  value: 'to_v',
  proj_attn: 'to_out.0',
};
const LEGACY_KEY = /^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$/;

const sameDims = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);
const fmt = (d: readonly number[]) => `[${d.join(', ')}]`;

/**
 * Float32 tensors under the names the graph uses: legacy attention names renamed, and for fourier models
 * `time_proj.W` (0.23 saves it beside `time_proj.weight`; they are one parameter) folded into `time_proj.weight`.
 * `source` names the weights in error messages.
 */
export function normalizeStateDict(sd: Map<string, Tensor>, fourier: boolean, source: string): StateDict {
  const out: StateDict = new Map();
  const origin = new Map<string, string>();
  for (const [key, t] of sd) {
    if (fourier && key === 'time_proj.W') continue;
    const m = LEGACY_KEY.exec(key);
    const name = m ? `${m[1]}.${LEGACY_ATTENTION[m[2]]}.${m[3]}` : key;
    if (out.has(name))
      throw new RangeError(`${source}: "${key}" and "${origin.get(name)}" both give parameter "${name}"`);
    let f: Tensor<'float32'>;
    try {
      f = toFloat32(t);
    } catch (e) {
      throw new TypeError(`${source}: parameter "${key}": ${(e as Error).message}`);
    }
    out.set(name, f);
    origin.set(name, key);
  }
  // torch loads the shared pair in registration order (weight, then W), so W wins when both are present.
  const w = fourier ? sd.get('time_proj.W') : undefined;
  if (w) out.set('time_proj.weight', toFloat32(w));
  return out;
}

/** A ParamSource over a state dict (or none, for a shape-only build) that records what the graph used. */
export class ParamTable implements ParamSource {
  /** Every parameter the architecture needs, in build order, with its shape. */
  readonly expected = new Map<string, number[]>();
  private readonly added = new Map<string, string>();

  constructor(private readonly sd: StateDict | null) {}

  claim(name: string, dims: number[]): void {
    const prev = this.expected.get(name);
    if (prev && !sameDims(prev, dims))
      throw new Error(`internal: parameter ${name} requested as ${fmt(prev)} and ${fmt(dims)}`);
    this.expected.set(name, dims);
  }

  param(g: GraphBuilder, name: string, dims: number[], viewDims: number[] = dims): string {
    this.claim(name, dims);
    const key = viewDims === dims ? name : `${name}:${viewDims.join('x')}`;
    const existing = this.added.get(key);
    if (existing) return existing;
    const t = this.sd?.get(name);
    const data =
      t && sameDims(t.dims, dims)
        ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
        : undefined;
    const init = g.initializer(key, 'float32', viewDims, data);
    this.added.set(key, init);
    return init;
  }

  /** Throws one error listing missing, unexpected and shape-mismatched keys (if any). */
  check(makeError: (message: string) => Error): void {
    const sd = this.sd ?? new Map();
    const missing = [...this.expected.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !this.expected.has(k));
    const mismatched = [...this.expected]
      .filter(([k, d]) => sd.has(k) && !sameDims(sd.get(k)!.dims, d))
      .map(([k, d]) => `${k}: checkpoint ${fmt(sd.get(k)!.dims)}, model ${fmt(d)}`);
    if (!missing.length && !unexpected.length && !mismatched.length) return;
    const list = (title: string, xs: string[]) =>
      xs.length ? `\n  ${title} (${xs.length}): ${xs.join(', ')}` : '';
    throw makeError(
      `state dict does not match the UNet2DModel config:${list('missing keys', missing)}${list('unexpected keys', unexpected)}${list(
        'shape mismatches',
        mismatched,
      )}`,
    );
  }
}

export { minimalSize } from './config.js';

const RESNET_CONV1 = /^(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.conv1\.weight$/;

/**
 * A cheap look at the state dict before the graph is built: the down and up blocks must have the number of
 * resnets the config's block count and layers_per_block give (len · lpb down, len · (lpb + 1) up). This keeps a
 * config claiming a huge layers_per_block from building millions of layers before the weights disagree.
 */
export function checkResnetCount(
  cfg: UNet2DConfig,
  sd: StateDict,
  makeError: (message: string) => Error,
): void {
  // An empty state dict (a shape-only model) is left to the full check, which reports config problems first.
  if (sd.size === 0) return;
  const blocks = cfg.block_out_channels.length;
  const lpb = cfg.layers_per_block;
  const count = { down: 0, up: 0 };
  for (const key of sd.keys()) {
    const m = RESNET_CONV1.exec(key);
    if (m && Number(m[2]) < blocks) count[m[1] as 'down' | 'up']++;
  }
  const expected = { down: blocks * lpb, up: blocks * (lpb + 1) };
  if (count.down !== expected.down || count.up !== expected.up) {
    throw makeError(
      `state dict does not match the UNet2DModel config: ${blocks} blocks with layers_per_block ${lpb} need ${expected.down} down and ${expected.up} up resnets, the weights have ${count.down} and ${count.up}`,
    );
  }
}

/**
 * Refuses NaN and ±Infinity weights (they give an all-NaN, i.e. black, image): names the first bad tensor and
 * counts the bad values. One pass over the weights, ~0.1 s for a 65M-parameter model.
 */
export function checkFinite(sd: StateDict, makeError: (message: string) => Error): void {
  let first: { name: string; bad: number; value: number } | undefined;
  let tensors = 0;
  for (const [name, t] of sd) {
    const d = t.data;
    let bad = 0;
    let value = 0;
    for (let i = 0; i < d.length; i++) {
      // x − x is 0 for every finite x and NaN for NaN and ±Infinity.
      if (d[i] - d[i] !== 0) {
        if (bad === 0) value = d[i];
        bad++;
      }
    }
    if (bad === 0) continue;
    tensors++;
    first ??= { name, bad, value };
  }
  if (first) {
    throw makeError(
      `weights are not finite: "${first.name}" has ${first.bad} non-finite values (first: ${first.value})${tensors > 1 ? `, and ${tensors - 1} more tensors have some` : ''}`,
    );
  }
}

/** Parameter names and shapes of the architecture, in build order (`time_proj.W` not included). */
export function unetParamSpec(cfg: UNet2DConfig): Map<string, number[]> {
  const table = new ParamTable(null);
  const s = minimalSize(cfg);
  buildUnetGraph(cfg, table, { height: s, width: s });
  return table.expected;
}
