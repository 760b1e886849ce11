/**
 * UNet2DModel weights: .safetensors and .bin load to identical outputs, diffusers' legacy attention names and
 * the time_proj.W / time_proj.weight pair, missing / unexpected / mismatched keys, float16 weights, and the
 * savePretrained round trip (config.json as diffusers 0.23 writes it).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, FileFormatError } from '../../src/errors.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { Tensor } from '../../src/tensor.js';
import { loadCase, MODELS_DIR } from './fixtures.js';

const NCSNPP = `${MODELS_DIR}tiny-ncsnpp`;
const config = async (dir: string) =>
  JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

describe('UNet2DModel weights', () => {
  let sample: Tensor<'float32'>;
  let reference: UNet2DModel;
  let refOut: Float32Array;
  let tmp: string;
  const opened: UNet2DModel[] = [];
  const track = (m: UNet2DModel) => {
    opened.push(m);
    return m;
  };

  before(async () => {
    const c = await loadCase('tiny-ncsnpp/cases/b1_sigma348.safetensors');
    sample = c.get('input/sample') as Tensor<'float32'>;
    reference = track(await UNet2DModel.fromPretrained(NCSNPP));
    refOut = (await reference.forward(sample, 348)).sample.data as Float32Array;
    tmp = await mkdtemp(join(tmpdir(), 'unet-weights-'));
  });
  after(async () => {
    for (const m of opened) await m.release();
    await rm(tmp, { recursive: true, force: true });
  });

  for (const model of ['tiny-ddpm', 'tiny-ncsnpp']) {
    it(`${model}: .safetensors and .bin give identical outputs`, async () => {
      const st = track(await UNet2DModel.fromPretrained(`${MODELS_DIR}${model}`, { useSafetensors: true }));
      const bin = track(await UNet2DModel.fromPretrained(`${MODELS_DIR}${model}`, { useSafetensors: false }));
      const a = await st.forward(sample, 348);
      const b = await bin.forward(sample, 348);
      assert.deepEqual(b.sample.data, a.sample.data);
    });
  }

  it('renames legacy attention keys (query/key/value/proj_attn) as diffusers does', async () => {
    const sd = new Map<string, Tensor>();
    let renamed = 0;
    for (const [k, v] of reference.stateDict()) {
      const legacy = k
        .replace(/\.to_q\./, '.query.')
        .replace(/\.to_k\./, '.key.')
        .replace(/\.to_v\./, '.value.')
        .replace(/\.to_out\.0\./, '.proj_attn.');
      if (legacy !== k) renamed++;
      sd.set(legacy, v);
    }
    assert.ok(renamed >= 8);
    const m = track(UNet2DModel.fromConfig(await config(NCSNPP), sd));
    assert.deepEqual((await m.forward(sample, 348)).sample.data, refOut);
  });

  it('accepts time_proj.weight alone (newest diffusers) or time_proj.W alone, W winning when both differ', async () => {
    const full = reference.stateDict();
    const withoutW = new Map(full);
    withoutW.delete('time_proj.W');
    const onlyW = new Map(full);
    onlyW.delete('time_proj.weight');
    for (const sd of [withoutW, onlyW]) {
      const m = track(UNet2DModel.fromConfig(await config(NCSNPP), sd));
      assert.deepEqual((await m.forward(sample, 348)).sample.data, refOut);
    }
    const conflicting = new Map(full);
    conflicting.set('time_proj.weight', new Tensor('float32', new Float32Array(32), [32]));
    const m = track(UNet2DModel.fromConfig(await config(NCSNPP), conflicting));
    assert.deepEqual((await m.forward(sample, 348)).sample.data, refOut);
  });

  it('lists missing, unexpected and mismatched keys in one error', async () => {
    const sd = new Map<string, Tensor>(reference.stateDict());
    sd.delete('conv_in.bias');
    sd.delete('mid_block.attentions.0.to_q.weight');
    sd.set('extra.weight', new Tensor('float32', new Float32Array(1), [1]));
    sd.set('conv_out.bias', new Tensor('float32', new Float32Array(4), [4]));
    assert.throws(
      () => UNet2DModel.fromConfig({ ...reference.config }, sd),
      (e: Error) =>
        e instanceof ConfigError &&
        /missing keys \(2\): conv_in\.bias, mid_block\.attentions\.0\.to_q\.weight/.test(e.message) &&
        /unexpected keys \(1\): extra\.weight/.test(e.message) &&
        /conv_out\.bias: checkpoint \[4\], model \[3\]/.test(e.message),
    );
  });

  it('names the weights file when a checkpoint does not fit its config', async () => {
    const dir = join(tmp, 'bad');
    await reference.savePretrained(dir);
    const cfg = await config(dir);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ ...cfg, block_out_channels: [32, 32, 32, 64] }),
    );
    await assert.rejects(
      UNet2DModel.fromPretrained(dir),
      (e: Error) =>
        e instanceof FileFormatError &&
        e.message.includes('diffusion_pytorch_model.safetensors') &&
        /shape mismatches/.test(e.message),
    );
  });

  it('loads float16 weights (widened to float32 exactly)', async () => {
    const half = new Map<string, Tensor>();
    const widened = new Map<string, Tensor>();
    for (const [k, v] of reference.stateDict()) {
      const src = v.data as Float32Array;
      const bits = new Uint16Array(src.length);
      const back = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        bits[i] = toHalfBits(src[i]);
        back[i] = fromHalfBits(bits[i]);
      }
      half.set(k, new Tensor('float16', bits, v.dims));
      widened.set(k, new Tensor('float32', back, v.dims));
    }
    const a = track(UNet2DModel.fromConfig({ ...reference.config }, half));
    const b = track(UNet2DModel.fromConfig({ ...reference.config }, widened));
    assert.deepEqual((await a.forward(sample, 348)).sample.data, (await b.forward(sample, 348)).sample.data);
  });

  it('savePretrained writes what diffusers 0.23 writes and reloads to identical outputs', async () => {
    const dir = join(tmp, 'saved');
    await reference.savePretrained(dir);
    assert.deepEqual(await config(dir), await config(NCSNPP));
    const saved = await loadSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'));
    const original = await loadSafetensors(join(NCSNPP, 'diffusion_pytorch_model.safetensors'));
    assert.deepEqual(saved.metadata, { format: 'pt' });
    assert.deepEqual([...saved.tensors.keys()].sort(), [...original.tensors.keys()].sort());
    for (const [k, t] of original.tensors) assert.deepEqual(saved.tensors.get(k)!.data, t.data, k);
    const reloaded = track(await UNet2DModel.fromPretrained(dir));
    assert.deepEqual((await reloaded.forward(sample, 348)).sample.data, refOut);
  });
});

/** float32 → float16 bits, round to nearest even (normal range only; enough for these weights). */
function toHalfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign; // flush tiny values to zero
  let mant = u & 0x7fffff;
  let e = exp;
  const round = mant & 0x1fff;
  mant >>>= 13;
  if (round > 0x1000 || (round === 0x1000 && mant & 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
    }
  }
  return sign | (e << 10) | mant;
}

function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
}
