/**
 * UNet2DModel configuration: the keys, defaults and checks of diffusers v0.23.0 `UNet2DModel.__init__`.
 * Stored in snake_case exactly as `config.json` spells it, so it round-trips through savePretrained.
 */
import { ConfigError } from '../../errors.js';
import { checkConfigKeys } from '../../io/config.js';

export const DOWN_BLOCK_TYPES = [
  'DownBlock2D',
  'ResnetDownsampleBlock2D',
  'AttnDownBlock2D',
  'SkipDownBlock2D',
  'AttnSkipDownBlock2D',
] as const;
export const UP_BLOCK_TYPES = [
  'UpBlock2D',
  'ResnetUpsampleBlock2D',
  'AttnUpBlock2D',
  'SkipUpBlock2D',
  'AttnSkipUpBlock2D',
] as const;
export type DownBlockType = (typeof DOWN_BLOCK_TYPES)[number];
export type UpBlockType = (typeof UP_BLOCK_TYPES)[number];
export const ACTIVATIONS = ['silu', 'swish', 'mish', 'gelu', 'relu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** The UNet2DModel config as diffusers 0.23.0 `save_config` writes it (snake_case keys). */
export interface UNet2DConfig {
  sample_size: number | [number, number] | null;
  in_channels: number;
  out_channels: number;
  center_input_sample: boolean;
  time_embedding_type: 'positional' | 'fourier' | 'learned';
  freq_shift: number;
  flip_sin_to_cos: boolean;
  down_block_types: DownBlockType[];
  up_block_types: UpBlockType[];
  block_out_channels: number[];
  layers_per_block: number;
  mid_block_scale_factor: number;
  downsample_padding: number;
  downsample_type: 'conv' | 'resnet';
  upsample_type: 'conv' | 'resnet';
  dropout: number;
  act_fn: Activation;
  attention_head_dim: number | null;
  norm_num_groups: number | null;
  attn_norm_num_groups: number | null;
  norm_eps: number;
  resnet_time_scale_shift: 'default' | 'scale_shift';
  add_attention: boolean;
  class_embed_type: 'timestep' | 'identity' | null;
  num_class_embeds: number | null;
  num_train_timesteps: number | null;
}

/** diffusers v0.23.0 defaults. */
export const UNET2D_DEFAULTS: Readonly<UNet2DConfig> = Object.freeze({
  sample_size: null,
  in_channels: 3,
  out_channels: 3,
  center_input_sample: false,
  time_embedding_type: 'positional',
  freq_shift: 0,
  flip_sin_to_cos: true,
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'],
  up_block_types: ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
  block_out_channels: [224, 448, 672, 896],
  layers_per_block: 2,
  mid_block_scale_factor: 1,
  downsample_padding: 1,
  downsample_type: 'conv',
  upsample_type: 'conv',
  dropout: 0,
  act_fn: 'silu',
  attention_head_dim: 8,
  norm_num_groups: 32,
  attn_norm_num_groups: null,
  norm_eps: 1e-5,
  resnet_time_scale_shift: 'default',
  add_attention: true,
  class_embed_type: null,
  num_class_embeds: null,
  num_train_timesteps: null,
} as UNet2DConfig);

const fail = (key: string, value: unknown, why: string): never => {
  throw new ConfigError(`UNet2DModel config: ${key} = ${JSON.stringify(value)} ${why}`);
};

const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;

export interface ResolveConfigOptions {
  /** The config file, named in the unknown-keys warning. */
  file?: string;
  /** Receives the unknown-keys warning instead of `process.emitWarning`. */
  onWarning?: (message: string, unknownKeys: string[]) => void;
}

/**
 * Merges `raw` over the v0.23.0 defaults and checks every value. Keys v0.23.0 does not know are dropped with
 * one warning naming them (as diffusers does); unsupported values throw a ConfigError naming key and value.
 */
export function resolveUnetConfig(
  raw: Record<string, unknown>,
  options: ResolveConfigOptions = {},
): UNet2DConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError('UNet2DModel config must be a JSON object');
  const known = checkConfigKeys(raw, Object.keys(UNET2D_DEFAULTS), { what: 'UNet2DModel', ...options });
  const c = structuredClone(UNET2D_DEFAULTS) as UNet2DConfig;
  Object.assign(c, structuredClone(known));
  validate(c);
  return c;
}

function validate(c: UNet2DConfig): void {
  const ss = c.sample_size;
  if (
    ss !== null &&
    !isInt(ss, 1) &&
    !(Array.isArray(ss) && ss.length === 2 && ss.every((d) => isInt(d, 1)))
  ) {
    fail('sample_size', ss, 'must be null, a positive integer or [height, width]');
  }
  for (const k of ['in_channels', 'out_channels', 'layers_per_block'] as const)
    if (!isInt(c[k], 1)) fail(k, c[k], 'must be a positive integer');
  for (const k of ['center_input_sample', 'flip_sin_to_cos', 'add_attention'] as const) {
    if (typeof c[k] !== 'boolean') fail(k, c[k], 'must be true or false');
  }
  if (!['positional', 'fourier', 'learned'].includes(c.time_embedding_type)) {
    fail(
      'time_embedding_type',
      c.time_embedding_type,
      "is not supported (use 'positional', 'fourier' or 'learned')",
    );
  }
  if (c.time_embedding_type === 'learned' && !isInt(c.num_train_timesteps, 1)) {
    fail(
      'num_train_timesteps',
      c.num_train_timesteps,
      "must be a positive integer when time_embedding_type is 'learned'",
    );
  }
  if (typeof c.freq_shift !== 'number' || !Number.isFinite(c.freq_shift))
    fail('freq_shift', c.freq_shift, 'must be a number');
  const boc = c.block_out_channels;
  if (!Array.isArray(boc) || boc.length === 0 || !boc.every((d) => isInt(d, 1))) {
    fail('block_out_channels', boc, 'must be a non-empty list of positive integers');
  }
  if (!Array.isArray(c.down_block_types) || c.down_block_types.length !== boc.length) {
    fail(
      'down_block_types',
      c.down_block_types,
      `must list one block per block_out_channels entry (${boc.length})`,
    );
  }
  if (!Array.isArray(c.up_block_types) || c.up_block_types.length !== boc.length) {
    fail(
      'up_block_types',
      c.up_block_types,
      `must list one block per block_out_channels entry (${boc.length})`,
    );
  }
  for (const t of c.down_block_types) {
    if (!DOWN_BLOCK_TYPES.includes(t))
      fail('down_block_types', t, `is not supported (supported: ${DOWN_BLOCK_TYPES.join(', ')})`);
  }
  for (const t of c.up_block_types) {
    if (!UP_BLOCK_TYPES.includes(t))
      fail('up_block_types', t, `is not supported (supported: ${UP_BLOCK_TYPES.join(', ')})`);
  }
  if (typeof c.mid_block_scale_factor !== 'number' || !(c.mid_block_scale_factor > 0)) {
    fail('mid_block_scale_factor', c.mid_block_scale_factor, 'must be a positive number');
  }
  if (!isInt(c.downsample_padding))
    fail('downsample_padding', c.downsample_padding, 'must be a non-negative integer');
  if (!['conv', 'resnet'].includes(c.downsample_type))
    fail('downsample_type', c.downsample_type, "is not supported (use 'conv' or 'resnet')");
  if (!['conv', 'resnet'].includes(c.upsample_type))
    fail('upsample_type', c.upsample_type, "is not supported (use 'conv' or 'resnet')");
  if (typeof c.dropout !== 'number' || c.dropout < 0 || c.dropout >= 1)
    fail('dropout', c.dropout, 'must be in [0, 1)');
  if (!ACTIVATIONS.includes(c.act_fn))
    fail('act_fn', c.act_fn, `is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  if (c.attention_head_dim !== null && !isInt(c.attention_head_dim, 1)) {
    fail('attention_head_dim', c.attention_head_dim, 'must be null or a positive integer');
  }
  for (const k of ['norm_num_groups', 'attn_norm_num_groups'] as const) {
    if (c[k] !== null && !isInt(c[k], 1)) fail(k, c[k], 'must be null or a positive integer');
  }
  if (typeof c.norm_eps !== 'number' || !(c.norm_eps > 0))
    fail('norm_eps', c.norm_eps, 'must be a positive number');
  if (!['default', 'scale_shift'].includes(c.resnet_time_scale_shift)) {
    fail(
      'resnet_time_scale_shift',
      c.resnet_time_scale_shift,
      "is not supported (use 'default' or 'scale_shift')",
    );
  }
  if (c.class_embed_type !== null && !['timestep', 'identity'].includes(c.class_embed_type)) {
    fail('class_embed_type', c.class_embed_type, "is not supported (use null, 'timestep' or 'identity')");
  }
  if (c.num_class_embeds !== null && !isInt(c.num_class_embeds, 1))
    fail('num_class_embeds', c.num_class_embeds, 'must be null or a positive integer');
}

/** The config.json diffusers 0.23.0 `save_config` writes: every key, sorted, plus the class and version. */
export function configToJson(c: UNet2DConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { _class_name: 'UNet2DModel', _diffusers_version: '0.23.0' };
  for (const k of Object.keys(c).sort()) out[k] = (c as unknown as Record<string, unknown>)[k];
  return out;
}
