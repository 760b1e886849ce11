import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../src/errors.js';
import { addVariant, findWeightsFile, toFloat32 } from '../../src/io/weights.js';
import { Tensor } from '../../src/tensor.js';
import { withTempDir } from './builders.js';

const MODELS = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

describe('findWeightsFile', () => {
  it('prefers .safetensors, falls back to .bin, and honours useSafetensors', async () => {
    const both = join(MODELS, 'tiny-ddpm');
    assert.equal(await findWeightsFile(both), join(both, 'diffusion_pytorch_model.safetensors'));
    assert.equal(
      await findWeightsFile(both, { useSafetensors: true }),
      join(both, 'diffusion_pytorch_model.safetensors'),
    );
    assert.equal(
      await findWeightsFile(both, { useSafetensors: false }),
      join(both, 'diffusion_pytorch_model.bin'),
    );
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'diffusion_pytorch_model.bin'), '');
      assert.equal(await findWeightsFile(dir), join(dir, 'diffusion_pytorch_model.bin'));
      await assert.rejects(
        findWeightsFile(dir, { useSafetensors: true }),
        (e: Error) =>
          e instanceof FileFormatError &&
          e.message ===
            `${dir}: no weights file found; looked for diffusion_pytorch_model.safetensors (useSafetensors is true, so .bin files are not considered)`,
      );
    });
  });

  it('picks variant files and lists every name it looked for', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'diffusion_pytorch_model.safetensors'), '');
      await writeFile(join(dir, 'diffusion_pytorch_model.fp16.bin'), '');
      assert.equal(
        await findWeightsFile(dir, { variant: 'fp16' }),
        join(dir, 'diffusion_pytorch_model.fp16.bin'),
      );
      await assert.rejects(
        findWeightsFile(dir, { variant: 'ema' }),
        (e: Error) =>
          e instanceof FileFormatError &&
          /looked for diffusion_pytorch_model\.ema\.safetensors and diffusion_pytorch_model\.ema\.bin$/.test(
            e.message,
          ),
      );
      // A folder named like the weights file is not a weights file.
      await mkdir(join(dir, 'sub', 'diffusion_pytorch_model.safetensors'), { recursive: true });
      await assert.rejects(findWeightsFile(join(dir, 'sub')), /no weights file found/);
      await assert.rejects(
        findWeightsFile(join(dir, 'nope')),
        (e: Error) => e instanceof FileFormatError && /nope: model folder not found/.test(e.message),
      );
      await assert.rejects(
        findWeightsFile(join(dir, 'diffusion_pytorch_model.safetensors')),
        /is not a folder/,
      );
      await assert.rejects(findWeightsFile(dir, { variant: '../x' }), TypeError);
    });
  });

  it('addVariant inserts the variant before the extension as diffusers does', () => {
    assert.equal(
      addVariant('diffusion_pytorch_model.safetensors', 'fp16'),
      'diffusion_pytorch_model.fp16.safetensors',
    );
    assert.equal(addVariant('diffusion_pytorch_model.bin'), 'diffusion_pytorch_model.bin');
  });
});

/** float16 bits → value via exponent rebiasing into float32 bits (independent of the table toFloat32 uses). */
function halfByRebias(h: number): number {
  const sign = (h & 0x8000) << 16;
  let exp = (h >> 10) & 0x1f;
  let frac = h & 0x3ff;
  let bits: number;
  if (exp === 0x1f) bits = sign | 0x7f800000 | (frac << 13);
  else if (exp === 0) {
    if (frac === 0) bits = sign;
    else {
      // Normalise the subnormal.
      exp = 1;
      while ((frac & 0x400) === 0) {
        frac <<= 1;
        exp--;
      }
      bits = sign | ((exp + 112) << 23) | ((frac & 0x3ff) << 13);
    }
  } else bits = sign | ((exp + 112) << 23) | (frac << 13);
  return new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0];
}

describe('toFloat32', () => {
  it('converts all 65536 float16 patterns exactly', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = toFloat32(new Tensor('float16', all, [256, 256]));
    assert.deepEqual(out.dims, [256, 256]);
    for (let h = 0; h < 65536; h++) {
      const want = halfByRebias(h);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(out.data[h]), `0x${h.toString(16)}`);
      else assert.ok(Object.is(out.data[h], want), `0x${h.toString(16)}: ${out.data[h]} vs ${want}`);
    }
    const known: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x0400, 2 ** -14],
      [0x3555, 0.333251953125],
      [0x7c00, Number.POSITIVE_INFINITY],
      [0x8000, -0],
    ];
    const k = toFloat32(new Tensor('float16', Uint16Array.from(known.map(([h]) => h)), [known.length]));
    for (const [i, [, v]] of known.entries()) assert.ok(Object.is(k.data[i], v), `${v}`);
  });

  it('converts bfloat16 exactly and rounds float64 to nearest', () => {
    const bf = toFloat32(
      new Tensor('bfloat16', Uint16Array.from([0x3f80, 0xc0a0, 0x7f80, 0x0001, 0x8000]), [5]),
    );
    assert.deepEqual([...bf.data], [1, -5, Number.POSITIVE_INFINITY, 2 ** -133, -0]);
    const d = toFloat32(
      new Tensor('float64', Float64Array.from([0.1, 1 + 2 ** -24, 1 + 2 ** -24 + 2 ** -40, 1e300]), [2, 2]),
    );
    assert.deepEqual(d.dims, [2, 2]);
    assert.deepEqual([...d.data], [Math.fround(0.1), 1, 1 + 2 ** -23, Number.POSITIVE_INFINITY]);
  });

  it('returns float32 tensors unchanged and rejects integer tensors', () => {
    const t = new Tensor('float32', Float32Array.from([1, 2]), [2]);
    assert.equal(toFloat32(t), t);
    assert.throws(
      () => toFloat32(new Tensor('int64', BigInt64Array.from([1n]), [1])),
      /cannot convert int64 tensors/,
    );
    assert.throws(() => toFloat32({} as Tensor), TypeError);
  });
});
