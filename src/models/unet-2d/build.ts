/**
 * UNet2DModel.forward (diffusers v0.23.0) as one ONNX graph.
 *
 * Graph inputs (B is the free dimension 'batch'):
 *   sample (B, in_channels, H, W)
 *   time_arg (B, half | C0)     positional / fourier: the embedding argument, computed on the host (time.ts)
 *   time_index (B) int64        learned: the embedding row
 *   timesteps (B, 1, 1, 1)      fourier: σ, for the final division
 *   class_labels (B) int64      num_class_embeds without class_embed_type
 *   class_arg / class_index     class_embed_type 'timestep': labels through time_proj, as time_arg / time_index
 *   class_emb (B, temb)         class_embed_type 'identity'
 *   dropout/<resnet path>       training graphs with `dropoutMasks`: ResnetBlock2D's dropout mask, shaped like
 *                               the activation it multiplies (0 or 1 / (1 − p), drawn on the host)
 * Output: output (B, out_channels, H, W), plus act/<module path> for every hooked module when requested.
 */
import { GraphBuilder } from '../../onnx/graph.js';
import { downBlock, midBlock, upBlock } from './blocks.js';
import type { UNet2DConfig } from './config.js';
import { activation, type BuildContext, conv2d, groupNorm, linear, type ParamSource } from './layers.js';

export interface BuildOptions {
  height: number;
  width: number;
  /** Add an `act/<module path>` output for every module the reference fixtures hook. */
  activations?: boolean;
  /** A fixed batch size instead of the free dimension 'batch' (training graphs: every shape static). */
  batch?: number;
  /** Training: apply dropout as `x · mask` with a `dropout/<resnet path>` mask input per resnet (when config.dropout > 0). */
  dropoutMasks?: boolean;
}

/** The graph input holding the dropout mask of the resnet at `path`. */
export const dropoutInputName = (path: string) => `dropout/${path}`;

/** The free batch dimension of inference graphs. */
export const BATCH = 'batch';

/** The channel count the time projection outputs (the TimestepEmbedding input). */
export function timeProjChannels(cfg: UNet2DConfig): number {
  return cfg.time_embedding_type === 'fourier' ? 2 * cfg.block_out_channels[0] : cfg.block_out_channels[0];
}

/** Sinusoidal projection from a host-computed argument: [sin, cos] (or [cos, sin]), zero-padded when odd. */
function sinusoid(g: GraphBuilder, arg: string, flip: boolean, dim: number): string {
  const s = g.sin(arg);
  const c = g.cos(arg);
  let emb = g.concat(flip ? [c, s] : [s, c], 1);
  if (dim % 2 === 1) emb = g.pad(emb, [0, 0, 0, 1]);
  return emb;
}

/** Builds the graph; every parameter is requested from `params` by its state-dict name. */
export function buildUnetGraph(cfg: UNet2DConfig, params: ParamSource, opts: BuildOptions): GraphBuilder {
  const g = new GraphBuilder('UNet2DModel');
  const activations = opts.activations ?? false;
  const B = opts.batch ?? BATCH;
  const ctx: BuildContext = {
    g,
    params,
    actFn: cfg.act_fn,
    record: (path, value) => {
      if (activations) g.output(value, `act/${path}`);
    },
  };
  if (opts.dropoutMasks && cfg.dropout > 0) {
    ctx.dropout = (path, x) => g.mul(x, g.input(dropoutInputName(path), 'float32', g.shape(x)));
  }
  const c0 = cfg.block_out_channels[0];
  const blocks = cfg.block_out_channels.length;
  const factor = 2 ** (blocks - 1);
  if (opts.height % factor !== 0 || opts.width % factor !== 0) {
    throw new RangeError(
      `UNet2DModel: sample height and width must be multiples of ${factor} for ${blocks} blocks, got ${opts.height}×${opts.width}`,
    );
  }

  // 1. time (and class) embedding; act_fn(emb) is shared by every resnet's time_emb_proj.
  const embAct = activation(g, embedding(ctx, cfg, B), cfg.act_fn);

  // 2. pre-process
  let sample = g.input('sample', 'float32', [B, cfg.in_channels, opts.height, opts.width]);
  if (cfg.center_input_sample) sample = g.sub(g.mul(sample, g.constFloat([2], [])), g.constFloat([1], []));
  const h = g.scoped('conv_in', () =>
    conv2d(ctx, sample, 'conv_in', { inCh: cfg.in_channels, outCh: c0, kernel: 3, padding: 1 }),
  );
  ctx.record('conv_in', h);

  // 3. down, 4. mid, 5. up
  const down = downPath(ctx, cfg, h, embAct, sample);
  const mid = g.scoped('mid_block', () =>
    midBlock(ctx, cfg, cfg.block_out_channels[blocks - 1], 4 * c0, down.h, embAct),
  );
  const up = upPath(ctx, cfg, mid, down.residuals, embAct);

  // 6. post-process
  g.output(postProcess(ctx, cfg, up.h, up.skip, B), 'output');
  return g;
}

/** Step 1: the time embedding (plus the class embedding, when the config has one), before its activation. */
function embedding(ctx: BuildContext, cfg: UNet2DConfig, B: number | string): string {
  const { g, params } = ctx;
  const c0 = cfg.block_out_channels[0];
  const tembCh = c0 * 4;
  const projCh = timeProjChannels(cfg);
  // time_proj also embeds class labels for class_embed_type 'timestep' (its own graph input).
  const half = Math.floor(c0 / 2);
  const timeProj = (input: string): string => {
    if (cfg.time_embedding_type === 'learned') {
      const idx = g.input(`${input}_index`, 'int64', [B]);
      return g.gather(params.param(g, 'time_proj.weight', [cfg.num_train_timesteps!, c0]), idx);
    }
    if (cfg.time_embedding_type === 'fourier') {
      params.claim('time_proj.weight', [c0]);
      return sinusoid(g, g.input(`${input}_arg`, 'float32', [B, c0]), false, 2 * c0);
    }
    return sinusoid(g, g.input(`${input}_arg`, 'float32', [B, half]), cfg.flip_sin_to_cos, c0);
  };
  const tEmb = timeProj('time');
  ctx.record('time_proj', tEmb);
  const timeEmbedding = (x: string, path: string) =>
    g.scoped(path, () =>
      linear(
        ctx,
        g.silu(linear(ctx, x, `${path}.linear_1`, projCh, tembCh)),
        `${path}.linear_2`,
        tembCh,
        tembCh,
      ),
    );
  const emb = timeEmbedding(tEmb, 'time_embedding');
  ctx.record('time_embedding', emb);

  if (cfg.class_embed_type === null && cfg.num_class_embeds !== null) {
    const labels = g.input('class_labels', 'int64', [B]);
    return g.add(
      emb,
      g.gather(params.param(g, 'class_embedding.weight', [cfg.num_class_embeds, tembCh]), labels),
    );
  }
  if (cfg.class_embed_type === 'timestep')
    return g.add(emb, timeEmbedding(timeProj('class'), 'class_embedding'));
  if (cfg.class_embed_type === 'identity') return g.add(emb, g.input('class_emb', 'float32', [B, tembCh]));
  return emb;
}

/** Step 3: the down blocks; returns their output, the residuals the up blocks take and the Skip blocks' path. */
function downPath(ctx: BuildContext, cfg: UNet2DConfig, h: string, embAct: string, skip: string) {
  const boc = cfg.block_out_channels;
  const tembCh = 4 * boc[0];
  const residuals: string[] = [h];
  let outCh = boc[0];
  for (let i = 0; i < boc.length; i++) {
    const inCh = outCh;
    outCh = boc[i];
    const r = ctx.g.scoped(`down_blocks.${i}`, () =>
      downBlock(ctx, cfg, i, { inCh, outCh, tembCh, isFinal: i === boc.length - 1 }, h, embAct, skip),
    );
    h = r.h;
    skip = r.skip;
    residuals.push(...r.res);
  }
  return { h, residuals };
}

/** Step 5: the up blocks, each taking its layers_per_block + 1 residuals from the end of `residuals`. */
function upPath(ctx: BuildContext, cfg: UNet2DConfig, h: string, residuals: string[], embAct: string) {
  const rev = [...cfg.block_out_channels].reverse();
  const blocks = rev.length;
  const tembCh = 4 * cfg.block_out_channels[0];
  let skip: string | null = null;
  let outCh = rev[0];
  for (let i = 0; i < blocks; i++) {
    const prevOutCh = outCh;
    outCh = rev[i];
    const inCh = rev[Math.min(i + 1, blocks - 1)];
    const n = cfg.layers_per_block + 1;
    const res = residuals.splice(residuals.length - n, n);
    const r = ctx.g.scoped(`up_blocks.${i}`, () =>
      upBlock(
        ctx,
        cfg,
        i,
        { inCh, outCh, prevOutCh, tembCh, isFinal: i === blocks - 1 },
        h,
        res,
        embAct,
        skip,
      ),
    );
    h = r.h;
    skip = r.skip;
  }
  return { h, skip };
}

/** Step 6: norm, SiLU, conv_out, the Skip blocks' sum and, for fourier models, the division by σ. */
function postProcess(
  ctx: BuildContext,
  cfg: UNet2DConfig,
  h: string,
  skip: string | null,
  B: number | string,
) {
  const { g } = ctx;
  const c0 = cfg.block_out_channels[0];
  const groupsOut = cfg.norm_num_groups ?? Math.min(Math.floor(c0 / 4), 32);
  h = g.scoped('conv_norm_out', () => groupNorm(ctx, h, 'conv_norm_out', groupsOut, cfg.norm_eps));
  ctx.record('conv_norm_out', h);
  h = activation(g, h, 'silu');
  ctx.record('conv_act', h);
  h = conv2d(ctx, h, 'conv_out', { inCh: c0, outCh: cfg.out_channels, kernel: 3, padding: 1 });
  ctx.record('conv_out', h);
  if (skip !== null) h = g.add(h, skip);
  if (cfg.time_embedding_type === 'fourier') h = g.div(h, g.input('timesteps', 'float32', [B, 1, 1, 1]));
  return h;
}
