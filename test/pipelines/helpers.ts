/** Shared helpers for the pipeline tests: fixture paths, loading and FIXTURES-README's comparisons. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import type { Tensor } from '../../src/tensor.js';

export const fixturePath = (rel: string) => fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url));

/** A fixture model with the default scheduler, as every stored pipeline run was made; no progress bar. */
export async function fixturePipeline(model: string): Promise<ScoreSdeVePipeline> {
  const unet = await UNet2DModel.fromPretrained(fixturePath(`models/${model}`));
  const pipe = new ScoreSdeVePipeline({ unet, scheduler: new ScoreSdeVeScheduler() });
  pipe.setProgressBarConfig({ disable: true });
  return pipe;
}

/** The tensors of one stored pipeline run. */
export async function loadRun(name: string): Promise<Map<string, Tensor>> {
  return (await loadSafetensors(fixturePath(`pipeline/${name}.safetensors`))).tensors;
}

/** max|a − b| / max|ref|, the README's `rel`. */
export function relError(actual: Tensor, ref: Tensor): number {
  assert.deepEqual(actual.dims, ref.dims, 'shape');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.data.length; i++) {
    const r = Number(ref.data[i]);
    diff = Math.max(diff, Math.abs(Number(actual.data[i]) - r));
    scale = Math.max(scale, Math.abs(r));
  }
  return diff / scale;
}

export function assertRel(actual: Tensor, ref: Tensor, tol: number, what: string): number {
  const rel = relError(actual, ref);
  assert.ok(rel <= tol, `${what}: rel ${rel.toExponential(3)} > ${tol}`);
  return rel;
}

/** README's image check: exact where the reference is 0 or 1, within `atol` elsewhere. */
export function assertImagesClose(actual: Tensor, ref: Tensor, atol = 5e-3): void {
  assert.deepEqual(actual.dims, ref.dims, 'image shape');
  for (let i = 0; i < ref.data.length; i++) {
    const r = Number(ref.data[i]);
    const a = Number(actual.data[i]);
    if (r === 0 || r === 1) assert.equal(a, r, `image value ${i}: ${a} ≠ ${r}`);
    else assert.ok(Math.abs(a - r) <= atol, `image value ${i}: |${a} − ${r}| > ${atol}`);
  }
}
