/**
 * UNet2DModel's down, mid and up blocks (diffusers v0.23.0 unet_2d_blocks.py), built from layers.ts.
 * Group counts, scale factors and the skip (RGB pyramid) paths follow the reference, quirks included.
 */
import { ConfigError } from '../../errors.js';
import type { UNet2DConfig } from './config.js';
import {
  activation,
  attentionBlock,
  type BuildContext,
  conv2d,
  convDownsample,
  convUpsample,
  firDownsample,
  firUpsample,
  groupNorm,
  resnetBlock,
} from './layers.js';

const SQRT2 = Math.SQRT2;
/** min(C // 4, 32): the group count skip blocks use whatever norm_num_groups says. */
const skipGroups = (c: number) => Math.min(Math.floor(c / 4), 32);

export interface BlockIO {
  inCh: number;
  outCh: number;
  tembCh: number;
  isFinal: boolean;
}

export interface DownResult {
  h: string;
  /** The residuals this block adds for the up path, in order. */
  res: string[];
  /** The skip image after this block (unchanged by non-skip blocks). */
  skip: string;
}

function resnetGroups(cfg: UNet2DConfig, path: string): number {
  if (cfg.norm_num_groups === null) {
    throw new ConfigError(
      `UNet2DModel config: norm_num_groups = null is only supported by skip blocks, not by ${path}`,
    );
  }
  return cfg.norm_num_groups;
}

function headDim(cfg: UNet2DConfig, ch: number): number {
  return cfg.attention_head_dim ?? ch;
}

/**
 * Every diffusers down block type (DownBlock2D, AttnDownBlock2D, the NCSN++ Skip blocks, ResnetDownsampleBlock2D)
 * in one function: they share the resnet / attention loop and differ in flags and the downsampler, and one body
 * shows those differences side by side (longer than a screen for that reason).
 */
export function downBlock(
  ctx: BuildContext,
  cfg: UNet2DConfig,
  index: number,
  io: BlockIO,
  h0: string,
  tembAct: string,
  skip: string,
): DownResult {
  const type = cfg.down_block_types[index];
  const path = `down_blocks.${index}`;
  const eps = cfg.norm_eps;
  const shift = cfg.resnet_time_scale_shift;
  const res: string[] = [];
  let h = h0;
  const isSkip = type === 'SkipDownBlock2D' || type === 'AttnSkipDownBlock2D';
  const hasAttn = type === 'AttnDownBlock2D' || type === 'AttnSkipDownBlock2D';
  const scale = isSkip ? SQRT2 : 1;
  for (let i = 0; i < cfg.layers_per_block; i++) {
    const inCh = i === 0 ? io.inCh : io.outCh;
    const groups = isSkip ? skipGroups(inCh) : resnetGroups(cfg, path);
    h = resnetBlock(ctx, h, tembAct, `${path}.resnets.${i}`, {
      inCh,
      outCh: io.outCh,
      tembCh: io.tembCh,
      groups,
      groupsOut: isSkip ? skipGroups(io.outCh) : groups,
      eps,
      outputScaleFactor: scale,
      timeScaleShift: shift,
    });
    if (hasAttn) {
      const d = headDim(cfg, io.outCh);
      h = attentionBlock(ctx, h, `${path}.attentions.${i}`, {
        channels: io.outCh,
        heads: Math.floor(io.outCh / d),
        headDim: d,
        groups: isSkip ? 32 : resnetGroups(cfg, path),
        eps,
        rescaleOutputFactor: scale,
      });
    }
    res.push(h);
  }
  if (!io.isFinal) {
    if (isSkip) {
      h = resnetBlock(ctx, h, tembAct, `${path}.resnet_down`, {
        inCh: io.outCh,
        outCh: io.outCh,
        tembCh: io.tembCh,
        groups: skipGroups(io.outCh),
        eps,
        outputScaleFactor: SQRT2,
        resample: 'fir-down',
        useInShortcut: true,
        timeScaleShift: shift,
      });
      skip = firDownsample(ctx.g, skip);
      ctx.record(`${path}.downsamplers.0`, skip);
      h = ctx.g.add(conv2d(ctx, skip, `${path}.skip_conv`, { inCh: 3, outCh: io.outCh, kernel: 1 }), h);
    } else if (
      type === 'ResnetDownsampleBlock2D' ||
      (type === 'AttnDownBlock2D' && cfg.downsample_type === 'resnet')
    ) {
      const groups = resnetGroups(cfg, path);
      h = resnetBlock(ctx, h, tembAct, `${path}.downsamplers.0`, {
        inCh: io.outCh,
        outCh: io.outCh,
        tembCh: io.tembCh,
        groups,
        eps,
        resample: 'avgpool-down',
        timeScaleShift: shift,
      });
    } else {
      h = convDownsample(ctx, h, `${path}.downsamplers.0`, io.outCh, cfg.downsample_padding);
    }
    res.push(h);
  }
  ctx.record(path, h);
  if (isSkip) ctx.record(`${path}.skip_sample`, skip);
  return { h, res, skip };
}

/** UNetMidBlock2D: resnet, [attention, resnet]. */
export function midBlock(
  ctx: BuildContext,
  cfg: UNet2DConfig,
  ch: number,
  tembCh: number,
  h0: string,
  tembAct: string,
): string {
  const path = 'mid_block';
  const groups = cfg.norm_num_groups ?? skipGroups(ch);
  const scale = cfg.mid_block_scale_factor;
  const shift = cfg.resnet_time_scale_shift;
  const attnGroups = cfg.attn_norm_num_groups ?? (shift === 'default' ? groups : null);
  const resnet = (i: number, x: string) =>
    resnetBlock(ctx, x, tembAct, `${path}.resnets.${i}`, {
      inCh: ch,
      outCh: ch,
      tembCh,
      groups,
      eps: cfg.norm_eps,
      outputScaleFactor: scale,
      timeScaleShift: shift,
    });
  let h = resnet(0, h0);
  if (cfg.add_attention) {
    const d = cfg.attention_head_dim ?? cfg.block_out_channels[cfg.block_out_channels.length - 1];
    h = attentionBlock(ctx, h, `${path}.attentions.0`, {
      channels: ch,
      heads: Math.floor(ch / d),
      headDim: d,
      groups: attnGroups,
      eps: cfg.norm_eps,
      rescaleOutputFactor: scale,
    });
  }
  h = resnet(1, h);
  ctx.record(path, h);
  return h;
}

export interface UpIO extends BlockIO {
  prevOutCh: number;
}

export interface UpResult {
  h: string;
  /** The skip image after this block: null until a skip block has produced one. */
  skip: string | null;
}

/** The up-block counterpart of downBlock, one body for every type for the same reason. */
export function upBlock(
  ctx: BuildContext,
  cfg: UNet2DConfig,
  index: number,
  io: UpIO,
  h0: string,
  residuals: string[],
  tembAct: string,
  skipIn: string | null,
): UpResult {
  const { g } = ctx;
  const type = cfg.up_block_types[index];
  const path = `up_blocks.${index}`;
  const eps = cfg.norm_eps;
  const shift = cfg.resnet_time_scale_shift;
  const isSkip = type === 'SkipUpBlock2D' || type === 'AttnSkipUpBlock2D';
  const numLayers = cfg.layers_per_block + 1;
  const scale = isSkip ? SQRT2 : 1;
  let h = h0;
  for (let i = 0; i < numLayers; i++) {
    const resSkipCh = i === numLayers - 1 ? io.inCh : io.outCh;
    const resnetIn = i === 0 ? io.prevOutCh : io.outCh;
    h = g.concat([h, residuals[residuals.length - 1 - i]], 1);
    let groups: number;
    if (type === 'AttnSkipUpBlock2D')
      groups = Math.min(resnetIn + Math.floor(resSkipCh / 4), 32); // sic: precedence bug
    else if (isSkip) groups = skipGroups(resnetIn + resSkipCh);
    else groups = resnetGroups(cfg, path);
    h = resnetBlock(ctx, h, tembAct, `${path}.resnets.${i}`, {
      inCh: resnetIn + resSkipCh,
      outCh: io.outCh,
      tembCh: io.tembCh,
      groups,
      groupsOut: isSkip ? skipGroups(io.outCh) : groups,
      eps,
      outputScaleFactor: scale,
      timeScaleShift: shift,
    });
    if (type === 'AttnUpBlock2D') {
      const d = headDim(cfg, io.outCh);
      h = attentionBlock(ctx, h, `${path}.attentions.${i}`, {
        channels: io.outCh,
        heads: Math.floor(io.outCh / d),
        headDim: d,
        groups: groups,
        eps,
        rescaleOutputFactor: 1,
      });
    }
  }
  let skip = skipIn;
  if (isSkip) {
    if (type === 'AttnSkipUpBlock2D') {
      const d = headDim(cfg, io.outCh);
      h = attentionBlock(ctx, h, `${path}.attentions.0`, {
        channels: io.outCh,
        heads: Math.floor(io.outCh / d),
        headDim: d,
        groups: 32,
        eps,
        rescaleOutputFactor: SQRT2,
      });
    }
    if (skip !== null) {
      skip = firUpsample(g, skip);
      ctx.record(`${path}.upsampler`, skip);
    }
    if (!io.isFinal) {
      let s = groupNorm(ctx, h, `${path}.skip_norm`, skipGroups(io.outCh), eps);
      s = activation(g, s, 'silu');
      s = conv2d(ctx, s, `${path}.skip_conv`, { inCh: io.outCh, outCh: 3, kernel: 3, padding: 1 });
      skip = skip === null ? s : g.add(skip, s);
      h = resnetBlock(ctx, h, tembAct, `${path}.resnet_up`, {
        inCh: io.outCh,
        outCh: io.outCh,
        tembCh: io.tembCh,
        groups: skipGroups(io.outCh),
        groupsOut: skipGroups(io.outCh),
        eps,
        outputScaleFactor: SQRT2,
        resample: 'fir-up',
        useInShortcut: true,
        timeScaleShift: shift,
      });
    }
  } else if (!io.isFinal) {
    if (type === 'ResnetUpsampleBlock2D' || (type === 'AttnUpBlock2D' && cfg.upsample_type === 'resnet')) {
      h = resnetBlock(ctx, h, tembAct, `${path}.upsamplers.0`, {
        inCh: io.outCh,
        outCh: io.outCh,
        tembCh: io.tembCh,
        groups: resnetGroups(cfg, path),
        eps,
        resample: 'nearest-up',
        timeScaleShift: shift,
      });
    } else {
      h = convUpsample(ctx, h, `${path}.upsamplers.0`, io.outCh);
    }
  }
  ctx.record(path, h);
  if (isSkip && skip !== null) ctx.record(`${path}.skip_sample`, skip);
  return { h, skip };
}
