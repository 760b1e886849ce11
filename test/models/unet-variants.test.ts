/**
 * The UNet2DModel options the fixtures do not exercise: the other DDPM block types with resnet resampling,
 * scale_shift time conditioning, learned time embeddings, mish, and the three kinds of class conditioning.
 * No reference outputs exist for these, so the checks are exact identities: a class embedding that adds zero
 * must leave the output of the unconditioned model unchanged, and real labels must change it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  randomStateDict,
  resolveUnetConfig,
  UNet2DModel,
  unetParamSpec,
} from '../../src/models/unet-2d/index.js';
import { Tensor } from '../../src/tensor.js';

const BASE = {
  sample_size: 16,
  block_out_channels: [16, 16, 32],
  down_block_types: ['ResnetDownsampleBlock2D', 'AttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'AttnUpBlock2D', 'ResnetUpsampleBlock2D'],
  layers_per_block: 1,
  norm_num_groups: 4,
  attention_head_dim: 8,
  downsample_type: 'resnet',
  upsample_type: 'resnet',
  resnet_time_scale_shift: 'scale_shift',
  time_embedding_type: 'learned',
  num_train_timesteps: 100,
  act_fn: 'mish',
};

const x = new Tensor(
  'float32',
  Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.37)),
  [2, 3, 16, 16],
);

describe('UNet2DModel variants', () => {
  it('names parameters as diffusers does for resnet resampling and scale_shift', () => {
    const spec = unetParamSpec(resolveUnetConfig(BASE));
    assert.deepEqual(spec.get('time_proj.weight'), [100, 16]);
    assert.deepEqual(spec.get('down_blocks.0.downsamplers.0.conv1.weight'), [16, 16, 3, 3]);
    assert.deepEqual(spec.get('down_blocks.1.downsamplers.0.time_emb_proj.weight'), [32, 64]); // 2·C for scale_shift
    assert.deepEqual(spec.get('up_blocks.0.resnets.1.conv_shortcut.weight'), [32, 48, 1, 1]); // 32 + skip of 16
    assert.deepEqual(spec.get('up_blocks.1.upsamplers.0.norm1.weight'), [16]);
    // scale_shift without attn_norm_num_groups: the mid-block attention has no group_norm.
    assert.equal(spec.has('mid_block.attentions.0.group_norm.weight'), false);
    assert.deepEqual(spec.get('mid_block.attentions.0.to_q.weight'), [32, 32]);
  });

  for (const [kind, extra, labels] of [
    ['num_class_embeds', { num_class_embeds: 5 }, [1, 4]],
    ["class_embed_type 'timestep'", { class_embed_type: 'timestep' }, [3, 70]],
    [
      "class_embed_type 'identity'",
      { class_embed_type: 'identity' },
      new Tensor(
        'float32',
        Float32Array.from({ length: 128 }, (_, i) => Math.cos(i)),
        [2, 64],
      ),
    ],
  ] as const) {
    it(`${kind}: a zero class embedding changes nothing, labels do`, async () => {
      const plainCfg = resolveUnetConfig(BASE);
      const sd = randomStateDict(plainCfg, 7);
      const plain = UNet2DModel.fromConfig(BASE, sd);
      const condCfg = { ...BASE, ...extra };
      const condSd = new Map(sd);
      const zeroed = new Map(condSd);
      for (const [k, d] of unetParamSpec(resolveUnetConfig(condCfg))) {
        if (!k.startsWith('class_embedding.')) continue;
        condSd.set(k, randomStateDict(resolveUnetConfig(condCfg), 3).get(k)!);
        zeroed.set(k, Tensor.zeros(d));
      }
      const cond = UNet2DModel.fromConfig(condCfg, condSd);
      const zero = UNet2DModel.fromConfig(condCfg, zeroed);
      try {
        const t = [5, 90];
        const ref = (await plain.forward(x, t)).sample.data;
        const zeroLabels = kind.includes('identity') ? Tensor.zeros([2, 64]) : labels;
        assert.deepEqual((await zero.forward(x, t, { classLabels: zeroLabels })).sample.data, ref);
        const out = (await cond.forward(x, t, { classLabels: labels })).sample;
        assert.deepEqual(out.dims, [2, 3, 16, 16]);
        assert.notDeepEqual(out.data, ref);
        await assert.rejects(cond.forward(x, t), /classLabels are required/);
      } finally {
        await Promise.all([plain.release(), cond.release(), zero.release()]);
      }
    });
  }

  it('learned time embedding: the timestep picks a row; out-of-range timesteps are refused', async () => {
    const sd = randomStateDict(resolveUnetConfig(BASE), 11);
    const m = UNet2DModel.fromConfig(BASE, sd);
    try {
      const a = (await m.forward(x, [5, 5])).sample.data as Float32Array;
      const b = (await m.forward(x, 5)).sample.data;
      assert.deepEqual(a, b);
      const c = (await m.forward(x, [6, 5])).sample.data as Float32Array;
      const half = a.length / 2;
      assert.notDeepEqual(c.slice(0, half), a.slice(0, half));
      assert.deepEqual(c.slice(half), a.slice(half));
      await assert.rejects(m.forward(x, 100), /timestep\[0\] = 100 must be an integer in \[0, 100\)/);
    } finally {
      await m.release();
    }
  });
});
