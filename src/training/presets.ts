/**
 * Named UNet2DModel configs for `scoresde train --config <name>`: one table, each a diffusers config (what
 * `config.json` holds). Every preset trains with score_sde's VE noise range (DEFAULT_SIGMA_MIN / _MAX in
 * noise.ts: its CIFAR-10 settings suit 32×32 images with values in [0, 1]) unless its row names another.
 *
 * diffusers' Skip blocks (NCSN++) hard-code 3 image channels, so 1-channel presets use the plain blocks with
 * the fourier time embedding: still a score model (output divided by σ) that ScoreSdeVePipeline samples.
 */

export interface TrainingPreset {
  /** One line for `--help`. */
  description: string;
  /** The UNet2DModel config (diffusers keys; unspecified keys take diffusers' defaults). */
  config: Record<string, unknown>;
  /** VE noise range the preset is meant for, when not score_sde's default. */
  sigmaMin?: number;
  sigmaMax?: number;
}

/** NCSN++'s non-shape settings (score_sde ncsnpp configs as the google/ncsnpp-* hub configs spell them). */
const NCSNPP = {
  time_embedding_type: 'fourier',
  center_input_sample: true,
  // biome-ignore lint/suspicious/noApproximativeNumericConstant: the hub configs' literal, not √2 to double precision
  mid_block_scale_factor: 1.41421356237,
  norm_eps: 1e-6,
  norm_num_groups: null,
  attention_head_dim: null,
  flip_sin_to_cos: true,
  freq_shift: 0,
  downsample_padding: 1,
  act_fn: 'silu',
} as const;

export const TRAINING_PRESETS: Readonly<Record<string, TrainingPreset>> = Object.freeze({
  've-gray-32': {
    description: '1×32×32 (MNIST-like), fourier time embedding, attention at 16×16, ~3.7M parameters',
    config: {
      sample_size: 32,
      in_channels: 1,
      out_channels: 1,
      time_embedding_type: 'fourier',
      block_out_channels: [32, 64, 128],
      down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'],
      layers_per_block: 2,
      attention_head_dim: 8,
      norm_num_groups: 16,
    },
  },
  've-gray-16-tiny': {
    description: '1×16×16, the smallest useful model (tests, smoke runs), ~0.18M parameters',
    config: {
      sample_size: 16,
      in_channels: 1,
      out_channels: 1,
      time_embedding_type: 'fourier',
      block_out_channels: [16, 32],
      down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
      up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
      layers_per_block: 1,
      attention_head_dim: 8,
      norm_num_groups: 8,
    },
  },
  'ncsnpp-rgb-32': {
    description: '3×32×32 NCSN++ (Skip blocks, FIR resampling, attention at 16×16), ~3.3M parameters',
    config: {
      ...NCSNPP,
      sample_size: 32,
      in_channels: 3,
      out_channels: 3,
      block_out_channels: [64, 64, 64, 64],
      down_block_types: ['SkipDownBlock2D', 'AttnSkipDownBlock2D', 'SkipDownBlock2D', 'SkipDownBlock2D'],
      up_block_types: ['SkipUpBlock2D', 'SkipUpBlock2D', 'AttnSkipUpBlock2D', 'SkipUpBlock2D'],
      layers_per_block: 2,
    },
  },
  'ncsnpp-rgb-32-tiny': {
    description: "3×32×32 NCSN++ at the size of the test fixtures' tiny-ncsnpp, ~0.8M parameters",
    config: {
      ...NCSNPP,
      sample_size: 32,
      in_channels: 3,
      out_channels: 3,
      block_out_channels: [32, 32, 32, 32],
      down_block_types: ['SkipDownBlock2D', 'AttnSkipDownBlock2D', 'SkipDownBlock2D', 'SkipDownBlock2D'],
      up_block_types: ['SkipUpBlock2D', 'SkipUpBlock2D', 'AttnSkipUpBlock2D', 'SkipUpBlock2D'],
      layers_per_block: 2,
    },
  },
});

export const PRESET_NAMES = Object.freeze(Object.keys(TRAINING_PRESETS));
