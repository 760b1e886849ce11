/**
 * The real NCSN++ architectures (google/ncsnpp-celebahq-256 and -ffhq-1024 configs) build and run with
 * random weights, once each at batch 1, giving a finite output of the input's shape. (Heavy: ~250 GMAC each.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { randomStateDict, resolveUnetConfig, UNet2DModel } from '../../src/models/unet-2d/index.js';
import { Tensor } from '../../src/tensor.js';
import { MODELS_DIR } from './fixtures.js';

for (const [name, size] of [
  ['ncsnpp-celebahq-256', 256],
  ['ncsnpp-ffhq-1024', 1024],
] as const) {
  describe(`UNet2DModel ${name} (random weights)`, () => {
    it(`runs a ${size}×${size} forward at batch 1`, async () => {
      const raw = JSON.parse(readFileSync(`${MODELS_DIR}real-configs/${name}/config.json`, 'utf8'));
      // One intra-op thread: the test runner runs two files at once on this 2-core machine, and spinning
      // onnxruntime threads on oversubscribed cores slow both down.
      const unet = UNet2DModel.fromConfig(raw, randomStateDict(resolveUnetConfig(raw), 1), {
        intraOpThreads: 1,
      });
      try {
        const x = new Tensor(
          'float32',
          new Float32Array(3 * size * size).map((_, i) => Math.sin(i) * 50),
          [1, 3, size, size],
        );
        const out = await unet.forward(x, 50);
        assert.deepEqual(out.sample.dims, [1, 3, size, size]);
        const data = out.sample.data as Float32Array;
        assert.ok(data.every(Number.isFinite), 'output has non-finite values');
        assert.ok(
          data.some((v) => v !== 0),
          'output is all zero',
        );
      } finally {
        await unet.release();
      }
    });
  });
}
