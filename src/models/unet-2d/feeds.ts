/**
 * The conditioning inputs of the UNet graph (build.ts), computed on the host: the time projection's argument
 * or embedding row, σ for the fourier output division, and the class inputs. Shared by inference
 * (UNet2DModel.forward) and the training / likelihood graphs.
 */
import { assertFloat32, Tensor } from '../../tensor.js';
import type { UNet2DConfig } from './config.js';
import { fourierArgument, positionalArgument } from './time.js';

/** Something that becomes one float per batch row. */
export type TimestepInput = number | readonly number[] | Float32Array | Float64Array | Tensor;

/** diffusers `class_labels`: int labels (B) for num_class_embeds / 'timestep', a (B, temb) Tensor for 'identity'. */
export type ClassLabels = number | readonly number[] | Float32Array | Int32Array | Tensor;

export function perRow(value: TimestepInput | ClassLabels, batch: number, what: string): Float64Array {
  let vals: ArrayLike<number>;
  if (typeof value === 'number') vals = [value];
  else if (value instanceof Tensor) {
    if (value.rank > 1)
      throw new RangeError(
        `${what} must be a scalar or have shape [${batch}], got [${value.dims.join(', ')}]`,
      );
    const d = value.data;
    if (d instanceof BigInt64Array) vals = Array.from(d, Number);
    else if (value.dtype === 'float16' || value.dtype === 'bfloat16')
      throw new TypeError(`${what}: ${value.dtype} is not supported`);
    else vals = d as ArrayLike<number>;
  } else if (Array.isArray(value) || ArrayBuffer.isView(value)) vals = value as ArrayLike<number>;
  else throw new TypeError(`${what} must be a number, an array of numbers or a Tensor`);
  if (vals.length !== 1 && vals.length !== batch) {
    throw new RangeError(`${what} has ${vals.length} values; expected 1 or one per batch row (${batch})`);
  }
  const out = new Float64Array(batch);
  for (let i = 0; i < batch; i++) {
    out[i] = Number(vals[vals.length === 1 ? 0 : i]);
    if (Number.isNaN(out[i])) throw new RangeError(`${what}[${i}] is not a number`);
  }
  return out;
}

function toInt64(v: Float64Array, max: number, what: string): Tensor<'int64'> {
  return new Tensor(
    'int64',
    BigInt64Array.from(v, (x, i) => {
      if (!Number.isInteger(x) || x < 0 || x >= max)
        throw new RangeError(`${what}[${i}] = ${x} must be an integer in [0, ${max})`);
      return BigInt(x);
    }),
    [v.length],
  );
}

/** The time_proj input for `values` (one per row): its host-computed argument, or the embedding row. */
function timeProjFeed(
  cfg: UNet2DConfig,
  fourierW: Float32Array | undefined,
  feeds: Record<string, Tensor>,
  input: string,
  values: Float64Array,
  what: string,
): void {
  const c0 = cfg.block_out_channels[0];
  const v32 = Float32Array.from(values);
  if (cfg.time_embedding_type === 'fourier') {
    // The input is log σ and the output is divided by σ: σ ≤ 0 or ∞ would give a silent NaN image.
    const bad = v32.findIndex((s) => !(s > 0 && Number.isFinite(s)));
    if (bad >= 0) {
      throw new RangeError(
        `${what}[${bad}] is ${values[bad]}; a fourier (NCSN++) model takes σ > 0 and finite (its time input is log σ)`,
      );
    }
    if (!fourierW) throw new Error('internal: fourier time_proj.weight missing');
    const arg = fourierArgument(v32, fourierW);
    feeds[`${input}_arg`] = new Tensor('float32', arg, [values.length, c0]);
  } else if (cfg.time_embedding_type === 'positional') {
    const arg = positionalArgument(v32, c0, cfg.freq_shift);
    feeds[`${input}_arg`] = new Tensor('float32', arg, [values.length, Math.floor(c0 / 2)]);
  } else {
    feeds[`${input}_index`] = toInt64(values, cfg.num_train_timesteps!, what);
  }
}

function classFeeds(
  cfg: UNet2DConfig,
  fourierW: Float32Array | undefined,
  feeds: Record<string, Tensor>,
  batch: number,
  labels: ClassLabels | undefined,
): void {
  const conditioned = cfg.class_embed_type !== null || cfg.num_class_embeds !== null;
  if (!conditioned) {
    if (labels !== undefined)
      throw new RangeError('UNet2DModel.forward: classLabels given, but the model has no class embedding');
    return;
  }
  if (labels === undefined)
    throw new RangeError('UNet2DModel.forward: classLabels are required for class conditioning');
  const c0 = cfg.block_out_channels[0];
  const what = 'UNet2DModel.forward: classLabels';
  if (cfg.class_embed_type === 'identity') {
    if (!(labels instanceof Tensor))
      throw new TypeError('UNet2DModel.forward: classLabels must be a (B, temb) float32 Tensor');
    assertFloat32(labels, what, [batch, 4 * c0]);
    feeds.class_emb = labels;
  } else if (cfg.class_embed_type === 'timestep') {
    timeProjFeed(cfg, fourierW, feeds, 'class', perRow(labels, batch, what), what);
  } else {
    feeds.class_labels = toInt64(perRow(labels, batch, what), cfg.num_class_embeds!, 'classLabels');
  }
}

/**
 * Every graph input except `sample` (and dropout masks): time_arg / time_index, timesteps (fourier: σ for the
 * final division) and the class inputs. `timesteps` holds one value per row; `fourierW` is the fourier
 * `time_proj.weight` (W), needed for fourier models only.
 */
export function conditioningFeeds(
  cfg: UNet2DConfig,
  fourierW: Float32Array | undefined,
  timesteps: Float64Array,
  classLabels?: ClassLabels,
): Record<string, Tensor> {
  const batch = timesteps.length;
  const feeds: Record<string, Tensor> = {};
  timeProjFeed(cfg, fourierW, feeds, 'time', timesteps, 'UNet2DModel.forward: timestep');
  if (cfg.time_embedding_type === 'fourier')
    feeds.timesteps = new Tensor('float32', Float32Array.from(timesteps), [batch, 1, 1, 1]);
  classFeeds(cfg, fourierW, feeds, batch, classLabels);
  return feeds;
}
