// 1-channel (gray) models: the pipeline samples with the model's in_channels (diffusers 0.23 hard-codes 3),
// writes gray images, and converts RGB inputs for inpainting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePNG } from '../../src/io/png.js';
import { resolveUnetConfig } from '../../src/models/unet-2d/config.js';
import { UNet2DModel } from '../../src/models/unet-2d/model.js';
import { randomStateDict } from '../../src/models/unet-2d/random-init.js';
import { PipelineImage, ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { Generator } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { Tensor } from '../../src/tensor.js';
import { MICRO_CONFIG } from '../training/helpers.js';

const config = MICRO_CONFIG; // 1×8×8, fourier

function grayPipeline(): ScoreSdeVePipeline {
  const unet = UNet2DModel.fromConfig(config, randomStateDict(resolveUnetConfig(config), 3));
  return new ScoreSdeVePipeline({ unet, scheduler: new ScoreSdeVeScheduler({ sigmaMax: 10 }) });
}

describe('a 1-channel model in ScoreSdeVePipeline', () => {
  it('samples (B, 1, H, W) and writes gray PNGs whose bytes are the np output ·255', async () => {
    const pipe = grayPipeline();
    pipe.setProgressBarConfig({ disable: true });
    try {
      const run = (outputType: 'np' | 'pil') =>
        pipe.call({
          sampler: 'heun',
          numInferenceSteps: 3,
          batchSize: 2,
          outputType,
          generator: new Generator().manualSeed(5),
        });
      const np = (await run('np')).images as Tensor<'float32'>;
      assert.deepEqual(np.dims, [2, 8, 8, 1]);
      const pil = (await run('pil')).images as PipelineImage[];
      assert.equal(pil.length, 2);
      for (const [n, image] of pil.entries()) {
        assert.equal(image.channels, 1);
        const png = decodePNG(image.toPNG(), 'gray.png');
        assert.equal(png.channels, 1);
        for (let p = 0; p < 64; p++) {
          const expected = Math.round(Math.fround(np.data[n * 64 + p] * 255));
          assert.ok(Math.abs(png.data[p] - expected) <= 0.5 + 1e-9, `pixel ${p}`);
        }
      }
    } finally {
      await pipe.release();
    }
  });

  it('inpaints from an RGB image (converted to its channel mean) and keeps the known pixels', async () => {
    const pipe = grayPipeline();
    pipe.setProgressBarConfig({ disable: true });
    try {
      const rgb = new Uint8Array(64 * 3);
      for (let p = 0; p < 64; p++) rgb.set([p * 3, p * 2, p], 3 * p); // mean = 2p
      const mask = new Uint8Array(64 * 3).fill(255);
      mask.fill(0, 0, 32 * 3); // top half black = keep
      const { images } = await pipe.inpaint({
        image: new PipelineImage(8, 8, rgb),
        mask: new PipelineImage(8, 8, mask),
        numInferenceSteps: 2,
        outputType: 'np',
        generator: new Generator().manualSeed(1),
      });
      const out = images as Tensor<'float32'>;
      assert.deepEqual(out.dims, [1, 8, 8, 1]);
      for (let p = 0; p < 32; p++) assert.ok(Math.abs(out.data[p] - (2 * p) / 255) < 1e-6, `pixel ${p}`);
    } finally {
      await pipe.release();
    }
  });

  it('refuses colorize with a one-line reason', async () => {
    const pipe = grayPipeline();
    await assert.rejects(
      pipe.colorize({ image: new Tensor('float32', new Float32Array(64), [1, 1, 8, 8]) }),
      /colorize needs an RGB model; this one has 1 channel/,
    );
    await pipe.release();
  });
});
