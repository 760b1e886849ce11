/**
 * UNet2DModel session handling: one session reused per input size, rebuilt when the size changes,
 * concurrent forwards, release, and a clear error for an execution provider that is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { Tensor } from '../../src/tensor.js';
import { MODELS_DIR } from './fixtures.js';

const input = (b: number, s: number, seed: number) =>
  new Tensor(
    'float32',
    Float32Array.from({ length: b * 3 * s * s }, (_, i) => Math.sin(i * 0.1 + seed)),
    [b, 3, s, s],
  );

describe('UNet2DModel sessions', () => {
  it('rebuilds for a new input size and gives the same results when the size comes back', async () => {
    const m = await UNet2DModel.fromPretrained(`${MODELS_DIR}tiny-ncsnpp`);
    try {
      const x = input(1, 32, 1);
      const first = (await m.forward(x, 5)).sample.data;
      const big = await m.forward(input(1, 64, 2), 5);
      assert.deepEqual(big.sample.dims, [1, 3, 64, 64]);
      assert.deepEqual((await m.forward(x, 5)).sample.data, first);
      // Concurrent calls share the session; each gets its own result.
      const y = input(2, 32, 3);
      const [a, b] = await Promise.all([m.forward(x, 5), m.forward(y, [5, 9])]);
      assert.deepEqual(a.sample.data, first);
      assert.deepEqual(b.sample.data, (await m.forward(y, [5, 9])).sample.data);
      // A batch row gives the same result alone as inside a batch.
      const row0 = (
        await m.forward(new Tensor('float32', (y.data as Float32Array).slice(0, 3072), [1, 3, 32, 32]), 5)
      ).sample;
      const maxDiff = Math.max(
        ...(row0.data as Float32Array).map((v, i) => Math.abs(v - (b.sample.data as Float32Array)[i])),
      );
      assert.ok(
        maxDiff <= 1e-5 * Math.max(...(row0.data as Float32Array).map(Math.abs)),
        `batch row differs by ${maxDiff}`,
      );
      await m.release();
      // After release a forward builds a new session.
      assert.deepEqual((await m.forward(x, 5)).sample.data, first);
    } finally {
      await m.release();
    }
  });

  it("refuses executionProviders ['cuda'] at load time when the CUDA provider is not installed", async (t) => {
    const bin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
    const installed = readdirSync(bin).some((napi) =>
      existsSync(join(bin, napi, process.platform, process.arch, 'libonnxruntime_providers_cuda.so')),
    );
    if (installed) {
      t.skip('the CUDA provider is installed here');
      return;
    }
    await assert.rejects(
      UNet2DModel.fromPretrained(`${MODELS_DIR}tiny-ddpm`, { executionProviders: ['cuda'] }),
      /'cuda' is not available in this onnxruntime-node install.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    );
  });
});
