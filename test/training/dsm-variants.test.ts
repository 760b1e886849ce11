/**
 * DSM gradients of the UNet2DModel options the torch fixtures do not cover (learned time embeddings, resnet
 * resampling, scale_shift, mish/gelu, class embeddings, downsample padding 0, dropout), checked as
 * directional derivatives: (loss(θ + h d) − loss(θ − h d)) / 2h against ⟨∇loss, d⟩ for a random direction d
 * over all parameters at once, with h set so the loss moves by ~1e-3 of itself (float32 noise ≈ 1e-3 of the
 * derivative; curvature below that).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomStateDict, resolveUnetConfig } from '../../src/models/unet-2d/index.js';
import { nchwcBlockSize } from '../../src/onnx/session.js';
import { Generator } from '../../src/random/generator.js';
import { DsmStepGraph } from '../../src/training/dsm.js';

const noBlocked = (await nchwcBlockSize()) === null ? 'no NCHWc kernels here' : false;
const PATHS = [
  { convPath: 'standard' as const, skip: false as const },
  { convPath: 'blocked' as const, skip: noBlocked },
];

const COMMON = {
  sample_size: 8,
  block_out_channels: [16, 32],
  layers_per_block: 1,
  norm_num_groups: 4,
  attention_head_dim: 8,
};

const VARIANTS: { name: string; config: Record<string, unknown>; sigma: number[]; labels?: number[] }[] = [
  {
    name: 'learned time, resnet down/up, scale_shift, mish, mid attention without norm',
    config: {
      ...COMMON,
      down_block_types: ['ResnetDownsampleBlock2D', 'AttnDownBlock2D'],
      up_block_types: ['AttnUpBlock2D', 'ResnetUpsampleBlock2D'],
      downsample_type: 'resnet',
      upsample_type: 'resnet',
      resnet_time_scale_shift: 'scale_shift',
      time_embedding_type: 'learned',
      num_train_timesteps: 50,
      act_fn: 'mish',
    },
    sigma: [3, 40],
  },
  {
    name: 'positional, conv resampling with padding 0, gelu, num_class_embeds, dropout',
    config: {
      ...COMMON,
      down_block_types: ['AttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'AttnUpBlock2D'],
      downsample_padding: 0,
      act_fn: 'gelu',
      num_class_embeds: 4,
      dropout: 0.25,
      center_input_sample: true,
    },
    sigma: [0.3, 6],
    labels: [3, 1],
  },
  {
    name: "fourier with class_embed_type 'timestep'",
    config: {
      ...COMMON,
      down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
      up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
      time_embedding_type: 'fourier',
      class_embed_type: 'timestep',
      flip_sin_to_cos: false,
    },
    sigma: [0.05, 2],
    labels: [0.5, 7],
  },
];

function uniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 2 - 1;
  });
}

describe('DSM gradients of UNet2DModel variants (directional derivatives)', () => {
  for (const v of VARIANTS)
    for (const { convPath, skip } of PATHS)
      it(`${v.name} (${convPath} convolutions)`, { skip }, async () => {
        const cfg = resolveUnetConfig(v.config);
        const sd = randomStateDict(cfg, 11);
        const params = new Map([...sd].map(([k, t]) => [k, t.data]));
        const b = 2;
        const step = await DsmStepGraph.create(cfg, {
          batchSize: b,
          height: 8,
          width: 8,
          intraOpThreads: 1,
          convPath,
        });
        try {
          const n = b * 3 * 64;
          const x0 = uniform(n, 1).map((x) => (x + 1) / 2);
          const z = uniform(n, 2);
          const dropoutMasks = step.drawDropoutMasks(new Generator().manualSeed(5));
          if (cfg.dropout > 0) {
            assert.ok(step.dropoutInputs.size > 0, 'dropout masks for every resnet');
            const m = [...dropoutMasks.values()][0];
            assert.ok(m.some((x) => x === 0) && m.some((x) => Math.abs(x - 1 / (1 - cfg.dropout)) < 1e-6));
            // The same seed gives the same masks (reproducible runs).
            const again = step.drawDropoutMasks(new Generator().manualSeed(5));
            for (const [k, mk] of dropoutMasks) assert.deepEqual(again.get(k), mk, k);
          } else assert.equal(step.dropoutInputs.size, 0);
          const batch = { x0, z, sigma: Float32Array.from(v.sigma), classLabels: v.labels, dropoutMasks };
          const r = await step.run(params, batch);
          assert.deepEqual([...r.grads.keys()], [...step.parameterShapes.keys()]);
          let slope = 0;
          const dirs = new Map<string, Float32Array>();
          let seed = 100;
          for (const [k, g] of r.grads) {
            const d = uniform(g.length, seed++);
            dirs.set(k, d);
            for (let i = 0; i < g.length; i++) slope += g[i] * d[i];
          }
          const h = (1e-3 * r.loss) / Math.abs(slope);
          const moved = (sign: number) =>
            new Map(
              [...params].map(([k, p]) => {
                const d = dirs.get(k);
                return [k, d ? p.map((x, i) => x + sign * h * d[i]) : p];
              }),
            );
          const up = (await step.run(moved(1), batch)).loss;
          const down = (await step.run(moved(-1), batch)).loss;
          const fd = (up - down) / (2 * h);
          assert.ok(
            Math.abs(fd - slope) <= 1e-2 * Math.abs(slope),
            `directional derivative ${fd} vs ⟨∇, d⟩ ${slope}`,
          );
        } finally {
          await step.release();
        }
      });
});

describe('a step graph is deterministic within a convolution path (resume is bit for bit)', () => {
  for (const { convPath, skip } of PATHS)
    it(`${convPath}: a fresh session gives the same loss and gradients, bit for bit`, { skip }, async () => {
      const cfg = resolveUnetConfig({
        ...COMMON,
        down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
        up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
        time_embedding_type: 'fourier',
      });
      const params = new Map([...randomStateDict(cfg, 3)].map(([k, t]) => [k, t.data]));
      const n = 2 * 3 * 64;
      const batch = { x0: uniform(n, 1), z: uniform(n, 2), sigma: Float32Array.from([0.2, 9]) };
      const results = [];
      for (let i = 0; i < 2; i++) {
        const step = await DsmStepGraph.create(cfg, { batchSize: 2, height: 8, width: 8, convPath });
        try {
          results.push(await step.run(params, batch));
        } finally {
          await step.release();
        }
      }
      assert.equal(results[0].loss, results[1].loss);
      for (const [k, g] of results[0].grads) assert.deepEqual(results[1].grads.get(k), g, k);
    });
});
