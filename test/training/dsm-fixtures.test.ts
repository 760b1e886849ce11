/**
 * The whole model against torch autograd (test/fixtures/training, diffusers v0.23.0 + PyTorch): score_sde's DSM
 * loss and d loss / d θ for every parameter, and the input VJP, for tiny-ncsnpp (fourier, skip blocks, FIR,
 * attention) and tiny-ddpm (positional, conv resampling, one-channel-per-group norms).
 *
 * Tolerances (FIXTURES-README "training/", manifest.json): a gradient tensor's error is measured as the
 * manifest's spread, max|g − g_ref| / (max|g_ref| + 1e-6 · global max|g_ref|). torch's own float32 gradients sit
 * a median 2e-6 from float64 (recorded per file); a correct float32 implementation is two such roundings
 * away, so each tensor must be within 10× that median. Gradients that are zero in exact arithmetic (listed
 * in the manifest) are rounding noise in both: they get the spread's absolute floor, 1e-6 · global max|g|.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ScoreVjpGraph } from '../../src/gradients/score-vjp.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { UNet2DModel } from '../../src/models/unet-2d/model.js';
import { nchwcBlockSize } from '../../src/onnx/session.js';
import type { Tensor } from '../../src/tensor.js';
import { dsmLossAndGradients, vesdeSigma } from '../../src/training/dsm.js';
import { MODELS_DIR, relErr } from '../models/fixtures.js';

// Both convolution paths (src/onnx/nchwc.ts): the blocked NCHWc kernels where this onnxruntime has them, and the
// standard ops (onnxruntime-web, other providers). Each must match torch on its own.
const PATHS = [
  { convPath: 'standard' as const, skip: false as const },
  { convPath: 'blocked' as const, skip: (await nchwcBlockSize()) === null ? 'no NCHWc kernels here' : false },
];

const DIR = fileURLToPath(new URL('../fixtures/training/', import.meta.url));
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as {
  files: Record<string, unknown>[];
};
const entry = (file: string) => manifest.files.find((f) => f.file === file)!;
const load = async (file: string) => (await loadSafetensors(`${DIR}${file}`)).tensors;
const f32 = (t: Tensor | undefined) => t!.data as Float32Array;

for (const model of ['tiny-ncsnpp', 'tiny-ddpm']) {
  describe(`${model}: DSM loss and every parameter gradient vs torch autograd`, () => {
    for (const { convPath, skip } of PATHS)
      it(`matches loss, per-sample loss and all gradients (${convPath} convolutions)`, { skip }, async () => {
        const file = `${model}_dsm_grad.safetensors`;
        const fx = await load(file);
        const meta = entry(file);
        const zeroInExact = new Set(
          meta['grads_zero_in_exact_arithmetic (f32 values are rounding noise)'] as string[],
        );
        const median = meta.grad_f32_vs_f64_median as number;
        const unet = await UNet2DModel.fromPretrained(`${MODELS_DIR}${model}`);
        const t = f32(fx.get('input/t'));
        assert.deepEqual(vesdeSigma(t), f32(fx.get('derived/sigma')), 'σ = σ_min (σ_max / σ_min)^t');
        const r = await dsmLossAndGradients(unet, {
          x0: fx.get('input/x0')!,
          t,
          z: fx.get('input/z')!,
          convPath,
        });
        await unet.release();

        // The loss is a sum of squared residuals σ·score + z; the forward's float32 spread (rel 1e-5 on the
        // output, FIXTURES-README) bounds it.
        const lossF64 = (fx.get('output/loss_f64')!.data as Float64Array)[0];
        assert.ok(Math.abs(r.loss - lossF64) <= 1e-5 * lossF64, `loss ${r.loss} vs ${lossF64}`);
        assert.ok(relErr(r.perSampleLoss, f32(fx.get('output/per_sample_loss'))) <= 1e-5, 'per-sample loss');

        const refs = new Map(
          [...fx].filter(([k]) => k.startsWith('grad/')).map(([k, v]) => [k.slice(5), f32(v)]),
        );
        assert.deepEqual([...r.grads.keys()].sort(), [...refs.keys()].sort(), 'one gradient per parameter');
        let gmax = 0;
        for (const g of refs.values()) for (const v of g) gmax = Math.max(gmax, Math.abs(v));
        const bad: string[] = [];
        for (const [name, ref] of refs) {
          const mine = r.grads.get(name)!;
          let diff = 0;
          let scale = 0;
          let absMine = 0;
          for (let i = 0; i < ref.length; i++) {
            diff = Math.max(diff, Math.abs(mine[i] - ref[i]) || (Number.isNaN(mine[i]) ? Infinity : 0));
            scale = Math.max(scale, Math.abs(ref[i]));
            absMine = Math.max(absMine, Math.abs(mine[i]));
          }
          if (zeroInExact.has(name)) {
            if (!(absMine <= 1e-6 * gmax))
              bad.push(`${name}: |g| ${absMine.toExponential(2)} (zero in exact arithmetic)`);
          } else {
            const spread = diff / (scale + 1e-6 * gmax);
            if (!(spread <= 10 * median)) bad.push(`${name}: spread ${spread.toExponential(2)}`);
          }
        }
        assert.deepEqual(bad, [], `gradients off (bound ${(10 * median).toExponential(2)})`);
      });

    for (const { convPath, skip } of PATHS)
      it(`matches the input VJP and the Hutchinson divergence estimate (${convPath} convolutions)`, {
        skip,
      }, async () => {
        const fx = await load(`${model}_vjp.safetensors`);
        const unet = await UNet2DModel.fromPretrained(`${MODELS_DIR}${model}`);
        const x = fx.get('input/x')!;
        const [b, , h, w] = x.dims;
        const graph = await ScoreVjpGraph.create(unet, { batchSize: b, height: h, width: w, convPath });
        const eps = f32(fx.get('input/eps'));
        const r = await graph.run(f32(x), f32(fx.get('input/sigma')), eps);
        await graph.release();
        // The README's VJP spread is ≤ 2e-5 (float32 vs float64); the score is the forward (rel 1e-5).
        assert.ok(relErr(r.score, f32(fx.get('output/score'))) <= 1e-5, 'score');
        const vjp64 = fx.get('output/vjp_f64')!.data as Float64Array;
        const e = relErr(r.vjp, vjp64);
        assert.ok(e <= 2e-5, `vjp rel error ${e.toExponential(2)}`);
        const div = f32(fx.get('output/div_estimate'));
        const per = eps.length / b;
        for (let i = 0; i < b; i++) {
          let s = 0;
          let mag = 0;
          for (let j = i * per; j < (i + 1) * per; j++) {
            s += r.vjp[j] * eps[j];
            mag += Math.abs(vjp64[j] * eps[j]);
          }
          assert.ok(Math.abs(s - div[i]) <= 2e-5 * mag, `div estimate row ${i}: ${s} vs ${div[i]}`);
        }
      });
  });
}
