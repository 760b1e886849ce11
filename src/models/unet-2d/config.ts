/**
 * UNet2DModel configuration: the keys, defaults and checks of diffusers v0.23.0 `UNet2DModel.__init__`.
 * Stored in snake_case exactly as `config.json` spells it, so it round-trips through savePretrained.
 */

import { DIFFUSERS_VERSION } from '../../diffusers.js';
import { ConfigError } from '../../errors.js';
import { checkConfigKeys, MAX_CONFIG_DEPTH, nestingDepth } from '../../io/config.js';

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

const isInt = (v: unknown, min = 0): v is number => Number.isInteger(v) && (v as number) >= min;

/**
 * Upper bounds on sizes, far above any published checkpoint (ncsnpp-ffhq-1024: 1024 px, 8 blocks, 512 channels)
 * and at what one machine could run: a bad config fails here, not after minutes of allocation.
 */
export const UNET2D_LIMITS = Object.freeze({
  /** Largest sample_size side; one 128-channel activation at 2048² is already 2 GiB. */
  sampleSize: 2048,
  /** Largest number of blocks (len(block_out_channels)); the smallest input is 2^(blocks − 1) on a side. */
  blocks: 12,
  /** Largest layers_per_block. */
  layersPerBlock: 64,
  /** Largest channel count (in/out channels, block_out_channels, heads, groups). */
  channels: 8192,
  /** Largest embedding table (num_class_embeds, learned num_train_timesteps). */
  embeddings: 1_000_000,
});

/** Smallest spatial size the architecture accepts, and the factor every input side must be a multiple of (each down block but the last halves it). */
export function minimalSize(cfg: Pick<UNet2DConfig, 'block_out_channels'>): number {
  return 2 ** (cfg.block_out_channels.length - 1);
}

export interface ResolveConfigOptions {
  /** The config file, named in errors and in the unknown-keys warning. */
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
  const where = options.file ?? 'UNet2DModel config';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(`${where}: UNet2DModel config must be a JSON object`);
  // structuredClone below recurses: a config from code (not read by readJsonConfig) is checked here too.
  if (nestingDepth(raw, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH)
    throw new ConfigError(`${where}: config nests deeper than ${MAX_CONFIG_DEPTH} levels`);
  const known = checkConfigKeys(raw, Object.keys(UNET2D_DEFAULTS), { what: 'UNet2DModel', ...options });
  const c = structuredClone(UNET2D_DEFAULTS) as UNet2DConfig;
  Object.assign(c, structuredClone(known));
  validate(c, (key, value, why) => {
    const shown = JSON.stringify(value);
    throw new ConfigError(
      `${where}: ${key} = ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown} ${why}`,
    );
  });
  return c;
}

type Fail = (key: string, value: unknown, why: string) => never;

/** Every check of a resolved config, one after another: a flat list of independent rules, read top to bottom. */
function validate(c: UNet2DConfig, fail: Fail): void {
  const L = UNET2D_LIMITS;
  const inRange = (v: unknown, min: number, max: number): v is number => isInt(v, min) && v <= max;
  for (const k of ['in_channels', 'out_channels'] as const)
    if (!inRange(c[k], 1, L.channels)) fail(k, c[k], `must be an integer in [1, ${L.channels}]`);
  if (!inRange(c.layers_per_block, 1, L.layersPerBlock))
    fail('layers_per_block', c.layers_per_block, `must be an integer in [1, ${L.layersPerBlock}]`);
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
  if (c.time_embedding_type === 'learned' && !inRange(c.num_train_timesteps, 1, L.embeddings)) {
    fail(
      'num_train_timesteps',
      c.num_train_timesteps,
      `must be an integer in [1, ${L.embeddings}] when time_embedding_type is 'learned'`,
    );
  }
  if (typeof c.freq_shift !== 'number' || !Number.isFinite(c.freq_shift))
    fail('freq_shift', c.freq_shift, 'must be a number');
  const boc = c.block_out_channels;
  if (
    !Array.isArray(boc) ||
    boc.length === 0 ||
    boc.length > L.blocks ||
    !boc.every((d) => inRange(d, 1, L.channels))
  ) {
    fail('block_out_channels', boc, `must be a list of 1 to ${L.blocks} integers in [1, ${L.channels}]`);
  }
  const ss = c.sample_size;
  const sides = typeof ss === 'number' ? [ss] : Array.isArray(ss) && ss.length === 2 ? ss : undefined;
  if (ss !== null && !sides?.every((d) => inRange(d, 1, L.sampleSize))) {
    fail('sample_size', ss, `must be null, an integer in [1, ${L.sampleSize}] or [height, width]`);
  }
  const factor = minimalSize(c);
  if (sides?.some((d) => d % factor !== 0)) {
    fail('sample_size', ss, `must be a multiple of ${factor} (2^(blocks − 1) for ${boc.length} blocks)`);
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
  if (
    typeof c.mid_block_scale_factor !== 'number' ||
    !(c.mid_block_scale_factor > 0 && Number.isFinite(c.mid_block_scale_factor))
  ) {
    fail('mid_block_scale_factor', c.mid_block_scale_factor, 'must be a positive number');
  }
  // 1 pads the stride-2 conv symmetrically, 0 pads right/bottom by one (diffusers' Downsample2D); any other
  // padding changes the down path's sizes, which the up path's skip connections cannot match.
  if (c.downsample_padding !== 0 && c.downsample_padding !== 1)
    fail('downsample_padding', c.downsample_padding, 'must be 0 or 1');
  if (!['conv', 'resnet'].includes(c.downsample_type))
    fail('downsample_type', c.downsample_type, "is not supported (use 'conv' or 'resnet')");
  if (!['conv', 'resnet'].includes(c.upsample_type))
    fail('upsample_type', c.upsample_type, "is not supported (use 'conv' or 'resnet')");
  if (typeof c.dropout !== 'number' || c.dropout < 0 || c.dropout >= 1)
    fail('dropout', c.dropout, 'must be in [0, 1)');
  if (!ACTIVATIONS.includes(c.act_fn))
    fail('act_fn', c.act_fn, `is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  for (const k of ['attention_head_dim', 'norm_num_groups', 'attn_norm_num_groups'] as const) {
    if (c[k] !== null && !inRange(c[k], 1, L.channels))
      fail(k, c[k], `must be null or an integer in [1, ${L.channels}]`);
  }
  if (typeof c.norm_eps !== 'number' || !(c.norm_eps > 0 && Number.isFinite(c.norm_eps)))
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
  if (c.num_class_embeds !== null && !inRange(c.num_class_embeds, 1, L.embeddings))
    fail('num_class_embeds', c.num_class_embeds, `must be null or an integer in [1, ${L.embeddings}]`);
}

/** The config.json diffusers 0.23.0 `save_config` writes: every key, sorted, plus the class and version. */
export function configToJson(c: UNet2DConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    _class_name: 'UNet2DModel',
    _diffusers_version: DIFFUSERS_VERSION,
  };
  for (const k of Object.keys(c).sort()) out[k] = (c as unknown as Record<string, unknown>)[k];
  return out;
}
