/**
 * UNet2DModel config handling (diffusers v0.23.0 keys and defaults) and the architecture of the real
 * NCSN++ checkpoints: every state-dict key and shape, and the parameter count.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import {
  configToJson,
  resolveUnetConfig,
  UNet2DModel,
  unetParamSpec,
} from '../../src/models/unet-2d/index.js';
import { Tensor } from '../../src/tensor.js';
import { MODELS_DIR } from './fixtures.js';

const json = (path: string) => JSON.parse(readFileSync(`${MODELS_DIR}${path}`, 'utf8'));

describe('UNet2DModel config', () => {
  it('fills v0.23.0 defaults: a 2022 hub config resolves to the config 0.23 save_config writes', () => {
    for (const name of ['ncsnpp-celebahq-256', 'ncsnpp-ffhq-1024']) {
      const hub = resolveUnetConfig(json(`real-configs/${name}/config.hub-estimate.json`));
      const saved = json(`real-configs/${name}/config.json`);
      assert.deepEqual(configToJson(hub), saved);
    }
  });

  it('warns once, naming the keys diffusers 0.23.0 does not know, and ignores them', () => {
    const warnings: string[][] = [];
    const cfg = resolveUnetConfig(
      { ...json('tiny-ddpm/config.json'), time_embedding_dim: 64, mid_block_type: 'UNetMidBlock2D' },
      { onWarning: (_m, keys) => warnings.push(keys) },
    );
    assert.deepEqual(warnings, [['time_embedding_dim', 'mid_block_type']]);
    assert.equal('time_embedding_dim' in cfg, false);
  });

  it('rejects unsupported values with a ConfigError naming key and value', () => {
    const base = json('tiny-ncsnpp/config.json');
    const bad: [string, unknown, RegExp][] = [
      ['time_embedding_type', 'adm', /time_embedding_type = "adm"/],
      [
        'down_block_types',
        ['CrossAttnDownBlock2D', 'SkipDownBlock2D', 'SkipDownBlock2D', 'SkipDownBlock2D'],
        /down_block_types = "CrossAttnDownBlock2D"/,
      ],
      ['up_block_types', ['SkipUpBlock2D'], /up_block_types = \["SkipUpBlock2D"\].*one block per/],
      ['resnet_time_scale_shift', 'spatial', /resnet_time_scale_shift = "spatial"/],
      ['act_fn', 'tanh', /act_fn = "tanh"/],
      ['block_out_channels', [32, -1, 32, 32], /block_out_channels/],
      ['norm_eps', 0, /norm_eps = 0/],
      ['class_embed_type', 'projection', /class_embed_type = "projection"/],
    ];
    for (const [key, value, re] of bad) {
      assert.throws(
        () => resolveUnetConfig({ ...base, [key]: value }),
        (e: Error) => e instanceof ConfigError && re.test(e.message),
        key,
      );
    }
  });

  it('rejects norm_num_groups = null outside skip blocks, naming the block', () => {
    const cfg = { ...json('tiny-ddpm/config.json'), norm_num_groups: null };
    assert.throws(
      () => UNet2DModel.fromConfig(cfg, new Map()),
      (e: Error) => e instanceof ConfigError && /norm_num_groups = null.*down_blocks\.0/.test(e.message),
    );
  });
});

describe('UNet2DModel real NCSN++ architectures', () => {
  for (const name of ['ncsnpp-celebahq-256', 'ncsnpp-ffhq-1024']) {
    it(`${name}: every state-dict key and shape, and the parameter count`, () => {
      const shapes = json(`real-configs/${name}/state_dict_shapes.json`);
      const spec = unetParamSpec(resolveUnetConfig(json(`real-configs/${name}/config.json`)));
      // 0.23 state dicts also carry time_proj.W, the same parameter as time_proj.weight.
      const want = new Map<string, number[]>(Object.entries(shapes.shapes as Record<string, number[]>));
      assert.deepEqual(want.get('time_proj.W'), spec.get('time_proj.weight'));
      want.delete('time_proj.W');
      assert.deepEqual(new Map([...spec].sort()), new Map([...want].sort()));
      let params = 0;
      for (const d of spec.values()) params += d.reduce((a, b) => a * b, 1);
      assert.equal(params, shapes.num_parameters);
    });

    it(`${name}: loads a checkpoint with the legacy attention key names`, () => {
      const shapes = json(`real-configs/${name}/state_dict_shapes.json`);
      const legacy = shapes.legacy_attention_key_names as Record<string, string>;
      const sd = new Map<string, Tensor>();
      // Zero weights, all views of one buffer: only names and shapes matter here.
      const entries = Object.entries(shapes.shapes as Record<string, number[]>);
      const numel = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
      const zeros = new Float32Array(Math.max(...entries.map(([, d]) => numel(d))));
      for (const [k, dims] of entries) {
        const n = numel(dims);
        sd.set(legacy[k] ?? k, new Tensor('float32', zeros.subarray(0, n), dims));
      }
      const m = UNet2DModel.fromConfig(json(`real-configs/${name}/config.json`), sd);
      assert.equal(m.parameterCount, shapes.num_parameters);
      assert.ok(
        m.stateDict().has('down_blocks.4.attentions.0.to_q.weight') ||
          m.stateDict().has('down_blocks.6.attentions.0.to_q.weight'),
      );
    });
  }
});

describe('UNet2DModel.forward argument checks', () => {
  it('names the argument and the problem', async () => {
    const m = await UNet2DModel.fromPretrained(`${MODELS_DIR}tiny-ddpm`);
    try {
      const x = Tensor.zeros([2, 3, 32, 32]);
      await assert.rejects(
        m.forward(Tensor.zeros([2, 4, 32, 32]), 1),
        /sample must have shape \[-1, 3, -1, -1\]/,
      );
      await assert.rejects(
        m.forward(x, [1, 2, 3]),
        /timestep has 3 values; expected 1 or one per batch row \(2\)/,
      );
      await assert.rejects(m.forward(x, Number.NaN), /timestep\[0\] is not a number/);
      await assert.rejects(
        m.forward(Tensor.zeros([1, 3, 31, 31]), 1),
        /multiples of 2 for 2 blocks, got 31×31/,
      );
      await assert.rejects(m.forward(x, 1, { classLabels: [0, 1] }), /no class embedding/);
    } finally {
      await m.release();
    }
  });
});

describe('UNet2DModel.forward σ checks for fourier models', () => {
  it('refuses σ ≤ 0 and ∞ (log σ is the time input) instead of returning NaN', async () => {
    const m = await UNet2DModel.fromPretrained(`${MODELS_DIR}tiny-ncsnpp`);
    try {
      const x = Tensor.zeros([2, 3, 32, 32]);
      await assert.rejects(
        m.forward(x, [1, 0]),
        /timestep\[1\] is 0; a fourier \(NCSN\+\+\) model takes σ > 0/,
      );
      await assert.rejects(m.forward(x, -2), /timestep\[0\] is -2/);
      await assert.rejects(m.forward(x, Number.POSITIVE_INFINITY), /timestep\[0\] is Infinity/);
      const ok = await m.forward(x, [0.5, 1]);
      assert.ok(ok.sample.data.every(Number.isFinite));
    } finally {
      await m.release();
    }
  });
});

describe('UNet2DModel group counts', () => {
  it('names the GroupNorm whose channels its group count does not divide', () => {
    // 24 channels with norm_num_groups 16: torch fails inside GroupNorm; we name the module.
    const cfg = { ...json('tiny-ddpm/config.json'), block_out_channels: [24, 64], norm_num_groups: 16 };
    assert.throws(
      () => UNet2DModel.fromConfig(cfg, new Map()),
      (e: Error) =>
        e instanceof ConfigError &&
        /down_blocks\.0\.resnets\.0\.norm1 is a GroupNorm of 16 groups over 24 channels/.test(e.message),
    );
  });
});
