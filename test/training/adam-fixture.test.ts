/**
 * Four score_sde training steps of tiny-ncsnpp against PyTorch (shared fixture training/tiny-ncsnpp_adam,
 * subset copy; see PROVENANCE.md): DSM loss and gradient norm per step, then the final parameters and EMA.
 * The step graph's gradients differ from torch's by their float32 spread (README: worst ~1e-3 relative for
 * tiny-ncsnpp); Adam's update is scale-free in the gradient, so each tensor's update may differ by that
 * fraction of its size. Gradients that are zero in exact arithmetic are rounding noise in both, so their
 * parameters are only held to how far Adam can move them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { nchwcBlockSize } from '../../src/onnx/session.js';
import { DsmStepGraph } from '../../src/training/dsm.js';
import { vesdeSigma } from '../../src/training/noise.js';
import { ScoreSdeOptimizer } from '../../src/training/optimization.js';

const FIXTURE = fileURLToPath(
  new URL('../fixtures/training/tiny-ncsnpp_adam-subset.safetensors', import.meta.url),
);
const MODEL = fileURLToPath(new URL('../fixtures/models/tiny-ncsnpp', import.meta.url));
/** The fixture README's "zero in exact arithmetic" gradients of tiny-ncsnpp. */
const NOISE_GRADS = new Set([
  'down_blocks.1.attentions.0.to_k.bias',
  'down_blocks.1.attentions.1.to_k.bias',
  'up_blocks.2.attentions.0.to_k.bias',
  'mid_block.attentions.0.to_k.bias',
]);
const GRAD_SPREAD = 1e-3;
const noBlocked = (await nchwcBlockSize()) === null ? 'no NCHWc kernels here' : false;

describe('4 steps of tiny-ncsnpp (lr 2e-3, warmup 2, clip 1, EMA 0.999) match torch', () => {
  for (const convPath of ['standard', 'blocked'] as const)
    it(`${convPath} convolutions`, { skip: convPath === 'blocked' && noBlocked }, () => fourSteps(convPath));
});

async function fourSteps(convPath: 'standard' | 'blocked'): Promise<void> {
  const { tensors: fx, metadata } = await loadSafetensors(FIXTURE);
  const f = (k: string) => {
    const t = fx.get(k);
    assert.ok(t, `fixture lacks ${k}`);
    return t.data as Float32Array;
  };
  const unet = await UNet2DModel.fromPretrained(MODEL);
  const params = new Map<string, Float32Array>();
  for (const [k, t] of unet.stateDict()) if (k !== 'time_proj.W') params.set(k, Float32Array.from(t.data));
  const init = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
  // torch's named_parameters() order, so clip_grad_norm_ sums the norms in the same order.
  const trained = (JSON.parse(metadata.named_parameters_order) as string[]).filter(
    (k) => k !== 'time_proj.weight',
  );
  assert.deepEqual([...trained].sort(), [...params.keys()].filter((k) => k !== 'time_proj.weight').sort());
  const list = trained.map((k) => params.get(k)!);
  const opt = new ScoreSdeOptimizer(list, { lr: 2e-3, warmup: 2, gradClip: 1, emaDecay: 0.999 });
  const step = await DsmStepGraph.create(unet.config, { batchSize: 2, height: 32, width: 32, convPath });
  assert.equal(step.convPath, convPath);
  let lrSum = 0;
  try {
    for (let k = 0; k < 4; k++) {
      const sigma = vesdeSigma(f(`step${k}/t`), 0.01, 50);
      const out = await step.run(params, { x0: f(`step${k}/x0`), sigma, z: f(`step${k}/z`) });
      const loss = f(`step${k}/loss`)[0];
      assert.ok(Math.abs(out.loss - loss) <= 1e-5 * loss, `step ${k} loss ${out.loss} vs torch ${loss}`);
      const { gradNorm, lr } = opt.update(
        k,
        list,
        trained.map((key) => out.grads.get(key)!),
      );
      lrSum += lr;
      const norm = f(`step${k}/grad_norm_before_clip`)[0];
      assert.ok(Math.abs(gradNorm - norm) <= 1e-5 * norm, `step ${k} grad norm ${gradNorm} vs torch ${norm}`);
    }
  } finally {
    await step.release();
    await unet.release();
  }
  assert.equal(lrSum, 5e-3);
  const ema = new Map(trained.map((k, i) => [k, opt.ema.shadow[i]]));
  for (const [group, values] of [
    ['param', params],
    ['ema', ema],
  ] as const) {
    for (const key of trained) {
      const ref = f(`final/${group}/${key}`); // the first values of the tensor
      const ours = values.get(key)!;
      const start = init.get(key)!;
      let diff = 0;
      let moved = 0;
      for (let i = 0; i < ref.length; i++) {
        diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
        moved = Math.max(moved, Math.abs(ref[i] - start[i]));
      }
      if (NOISE_GRADS.has(key)) {
        // Noise in, noise out: only Adam's reach applies, |m̂/(√v̂ + ε)| ≤ ~1 per step in these first steps.
        let ownMove = 0;
        for (let i = 0; i < ours.length; i++) ownMove = Math.max(ownMove, Math.abs(ours[i] - start[i]));
        assert.ok(
          ownMove <= 1.01 * lrSum,
          `${group} ${key}: moved ${ownMove}, more than Adam can in 4 steps`,
        );
        continue;
      }
      const bound = GRAD_SPREAD * moved;
      assert.ok(
        diff <= bound,
        `${group} ${key}: differs from torch by ${diff}, bound ${bound} (moved ${moved})`,
      );
    }
  }
  // diffusers creates the fourier projection with requires_grad=False: neither Adam nor the EMA touch it.
  assert.deepEqual(params.get('time_proj.weight'), init.get('time_proj.weight'));
  assert.deepEqual(f('final/param/time_proj.weight'), init.get('time_proj.weight')!.slice(0, 256));
}
