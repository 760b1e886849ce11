/**
 * Hostile configs and weights (issue 12, hardening 2, 3 and 10): each must fail at load, fast, with one line
 * naming the file, as a ConfigError or FileFormatError (which the CLI prints as a user error), never later
 * inside onnxruntime or the sampler.
 */
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, FileFormatError, NumericalError } from '../../src/errors.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { runSampler } from '../../src/samplers/registry.js';
import { Tensor } from '../../src/tensor.js';
import { withTempDir } from '../io/builders.js';
import { fixturePath } from './helpers.js';

const MODEL = fixturePath('models/tiny-ncsnpp');
const WEIGHTS = 'diffusion_pytorch_model.safetensors';
const baseConfig = async () => JSON.parse(await readFile(join(MODEL, 'config.json'), 'utf8'));

/** A root-level model folder: tiny-ncsnpp's weights with `config` (and a scheduler config if given). */
async function modelDir(
  dir: string,
  config: Record<string, unknown> | string,
  scheduler?: Record<string, unknown>,
): Promise<string> {
  await writeFile(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  await copyFile(join(MODEL, WEIGHTS), join(dir, WEIGHTS));
  if (scheduler) await writeFile(join(dir, 'scheduler_config.json'), JSON.stringify(scheduler));
  return dir;
}

async function assertLoadFails(
  dir: string,
  type: typeof ConfigError | typeof FileFormatError,
  file: string,
  pattern: RegExp,
): Promise<void> {
  const start = performance.now();
  await assert.rejects(ScoreSdeVePipeline.fromPretrained(dir), (e: Error) => {
    assert.ok(e instanceof type, `${e.name}: ${e.message}`);
    assert.ok(e.message.includes(join(dir, file)), `"${e.message}" does not name ${file}`);
    assert.ok(!e.message.includes('\n'), `not one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
  const ms = performance.now() - start;
  assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
}

describe('hostile UNet configs fail at load, naming config.json', () => {
  const cases: [string, (c: Record<string, unknown>) => unknown, RegExp][] = [
    ['sample_size missing', (c) => delete c.sample_size, /sample_size is missing or null/],
    ['sample_size null', (c) => (c.sample_size = null), /sample_size is missing or null/],
    ['sample_size 33', (c) => (c.sample_size = 33), /sample_size = 33 must be a multiple of 8/],
    ['sample_size 1e308', (c) => (c.sample_size = 1e308), /sample_size = 1e\+308 must be .*\[1, 2048\]/],
    ['sample_size 16384', (c) => (c.sample_size = 16384), /sample_size = 16384 must be .*\[1, 2048\]/],
    [
      'layers_per_block 10000000',
      (c) => (c.layers_per_block = 1e7),
      /layers_per_block = 10000000 .*\[1, 64\]/,
    ],
    ['downsample_padding 5', (c) => (c.downsample_padding = 5), /downsample_padding = 5 must be 0 or 1/],
    [
      'class_embed_type "identity"',
      (c) => (c.class_embed_type = 'identity'),
      /class_embed_type "identity" makes a class-conditional UNet, but ScoreSdeVePipeline is unconditional/,
    ],
    [
      'block_out_channels too many',
      (c) => (c.block_out_channels = new Array(40).fill(32)),
      /block_out_channels/,
    ],
  ];
  for (const [name, edit, pattern] of cases) {
    it(name, () =>
      withTempDir(async (dir) => {
        const config = await baseConfig();
        edit(config);
        await assertLoadFails(await modelDir(dir, config), ConfigError, 'config.json', pattern);
      }),
    );
  }

  it('a 5000-deep nested sample_size is refused when config.json is read', () =>
    withTempDir(async (dir) => {
      const config = JSON.stringify(await baseConfig()).replace(
        '"sample_size":32',
        `"sample_size":${'['.repeat(5000)}32${']'.repeat(5000)}`,
      );
      await assertLoadFails(
        await modelDir(dir, config),
        FileFormatError,
        'config.json',
        /nests deeper than 16/,
      );
    }));

  it('a 5000-deep nested value passed in code is refused too (no structuredClone stack overflow)', async () => {
    let deep: unknown = 32;
    for (let i = 0; i < 5000; i++) deep = [deep];
    const config = { ...(await baseConfig()), sample_size: deep };
    assert.throws(
      () => UNet2DModel.fromConfig(config, new Map()),
      /UNet2DModel config: config nests deeper than 16/,
    );
  });

  it('layers_per_block that the weights do not have is refused before the graph is built', () =>
    withTempDir(async (dir) => {
      const config = { ...(await baseConfig()), layers_per_block: 64 };
      await assertLoadFails(
        await modelDir(dir, config),
        FileFormatError,
        WEIGHTS,
        /layers_per_block 64 need 256 down and 260 up resnets, the weights have 8 and 12/,
      );
    }));

  it('scheduler num_train_timesteps 1e12 is refused naming scheduler_config.json', () =>
    withTempDir(async (dir) => {
      await modelDir(dir, await baseConfig(), { num_train_timesteps: 1e12 });
      await assertLoadFails(
        dir,
        ConfigError,
        'scheduler_config.json',
        /num_train_timesteps .*\[1, 1000000\]/,
      );
    }));
});

describe('non-finite weights and outputs', () => {
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`weights holding ${value} are refused at load, naming the file and the first bad tensor`, () =>
      withTempDir(async (dir) => {
        const { tensors } = await loadSafetensors(join(MODEL, WEIGHTS));
        const bad = new Map(tensors);
        const conv = tensors.get('conv_in.weight') as Tensor<'float32'>;
        bad.set('conv_in.weight', new Tensor('float32', new Float32Array(conv.numel).fill(value), conv.dims));
        await writeFile(join(dir, 'config.json'), await readFile(join(MODEL, 'config.json')));
        await saveSafetensors(join(dir, WEIGHTS), bad);
        await assertLoadFails(
          dir,
          FileFormatError,
          WEIGHTS,
          new RegExp(`"conv_in.weight" has ${conv.numel} non-finite values \\(first: ${value}\\)`),
        );
      }));
  }

  it('a score network that returns NaN stops sampling at its first call', async () => {
    let calls = 0;
    const score = async (x: Tensor<'float32'>) => {
      calls++;
      return new Tensor('float32', new Float32Array(x.numel).fill(Number.NaN), x.dims);
    };
    await assert.rejects(
      runSampler('pc', score, { shape: [1, 3, 4, 4], steps: 10 }),
      (e: Error) =>
        e instanceof NumericalError &&
        /48 non-finite values \(NaN or ±Infinity\) of 48 at σ = 1348/.test(e.message),
    );
    assert.equal(calls, 1);
  });
});
