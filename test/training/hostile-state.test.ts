/**
 * Tampered training states and the memory estimate (issue 23). A checkpoint edited with care (its manifest
 * SHA-256 recomputed) is still refused when a field, an entry or a shape is wrong; a config or batch too large
 * for the memory is refused before a parameter is allocated, checked under an address-space cap rather than
 * by timing or measuring.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import { loadSafetensors, parseSafetensors, serializeSafetensors } from '../../src/io/index.js';
import { resolveUnetConfig } from '../../src/models/unet-2d/index.js';
import { unetFootprint } from '../../src/models/unet-2d/memory-estimate.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { graphMemory } from '../../src/onnx/memory.js';
import { Tensor } from '../../src/tensor.js';
import { checkTrainingMemory } from '../../src/training/memory-estimate.js';
import { train } from '../../src/training/train.js';
import { STATE_DIR } from '../../src/training/training-state.js';
import { MICRO_CONFIG, writeStripeImages } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-hostile-state-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const data = writeStripeImages(join(tmp, 'images'), 4);
const common = { config: { ...MICRO_CONFIG }, data, batchSize: 2, seed: 1 };

/** A finished 1-step run; each test tampers with its own copy. */
const runs = new Map<string, Promise<void>>();
const runIn = (name: string) => {
  const out = join(tmp, name);
  if (!runs.has(name))
    runs.set(
      name,
      train({ ...common, out, steps: 1 }).then(() => undefined),
    );
  return runs.get(name)!.then(() => out);
};

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** The current checkpoint's files; `reseal` rewrites one and recomputes the manifest as a careful forger would. */
function checkpoint(out: string) {
  const root = join(out, STATE_DIR);
  const manifestPath = join(root, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const dir = join(root, manifest.current);
  const reseal = (file: string, bytes: Uint8Array | string) => {
    writeFileSync(join(dir, file), bytes);
    manifest.files[file] = { bytes: Buffer.byteLength(bytes), sha256: sha256(bytes) };
    writeFileSync(manifestPath, JSON.stringify(manifest));
  };
  return { manifestPath, manifest, dir, reseal };
}

const resume = (out: string) => train({ out, resume: true, steps: 2 });

const refused = (p: Promise<unknown>, message: RegExp) =>
  assert.rejects(p, (e: Error) => {
    assert.equal(e.message.split('\n').length, 1, e.message);
    assert.match(e.message, message);
    return true;
  });

describe('training state read back', () => {
  it('refuses unknown manifest entries and files', async () => {
    const out = await runIn('manifest');
    const c = checkpoint(out);
    writeFileSync(c.manifestPath, JSON.stringify({ ...c.manifest, note: 'x' }));
    await refused(resume(out), /manifest\.json: has unknown entries \(note\)/);
    writeFileSync(
      c.manifestPath,
      JSON.stringify({
        ...c.manifest,
        files: { ...c.manifest.files, 'x.bin': c.manifest.files['state.json'] },
      }),
    );
    await refused(resume(out), /manifest\.json: lists an unknown file "x\.bin"/);
  });

  it('names state.json when it is not JSON, or holds an unknown field, even resealed', async () => {
    const out = await runIn('json');
    const c = checkpoint(out);
    const original = readFileSync(join(c.dir, 'state.json'), 'utf8');
    c.reseal('state.json', original.slice(0, -10));
    await refused(resume(out), /state\.json: not valid JSON/);
    c.reseal('state.json', JSON.stringify({ ...JSON.parse(original), extra: 1 }));
    await refused(resume(out), /state\.json: not a valid training state: unknown fields \(extra\)/);
    c.reseal(
      'state.json',
      JSON.stringify({ ...JSON.parse(original), options: { ...JSON.parse(original).options, lr: -1 } }),
    );
    await refused(resume(out), /training_state: the checkpoint holds an invalid value .*lr/);
  });

  it('refuses an Adam moment reshaped from [8, 1, 3, 3] to [1, 8, 9], and a reshaped parameter, resealed', async () => {
    const out = await runIn('shapes');
    const c = checkpoint(out);
    const file = join(c.dir, 'state.safetensors');
    const { tensors, metadata } = parseSafetensors(readFileSync(file), file);
    const reshaped = (names: string[], dims: number[]) =>
      serializeSafetensors(
        new Map(
          [...tensors].map(([k, t]) => [
            k,
            names.includes(k) ? new Tensor('float32', t.data as Float32Array, dims) : t,
          ]),
        ),
        metadata,
      );
    assert.deepEqual(tensors.get('param/conv_in.weight')?.dims, [8, 1, 3, 3]);
    c.reseal('state.safetensors', reshaped(['adam_m/conv_in.weight'], [1, 8, 9]));
    await refused(
      resume(out),
      /state\.safetensors: adam_m\/conv_in\.weight is shaped \[1, 8, 9\], its parameter \[8, 1, 3, 3\]/,
    );
    const all = ['param', 'ema', 'adam_m', 'adam_v'].map((g) => `${g}/conv_in.weight`);
    c.reseal('state.safetensors', reshaped(all, [8, 9]));
    await refused(resume(out), /param\/conv_in\.weight is shaped \[8, 9\], the model's \[8, 1, 3, 3\]/);
  });

  it('refuses state.safetensors as a link to /dev/zero without reading it', async () => {
    const out = await runIn('zero');
    const c = checkpoint(out);
    unlinkSync(join(c.dir, 'state.safetensors'));
    symlinkSync('/dev/zero', join(c.dir, 'state.safetensors'));
    await refused(resume(out), /state\.safetensors: is a character device, not a regular file/);
  });
});

describe('memory estimate', () => {
  const bundled = resolveUnetConfig(
    JSON.parse(readFileSync(join(repoRoot, 'models/fashion-mnist/unet/config.json'), 'utf8')),
  );

  it("counts the bundled model's parameters exactly, from shapes alone", async () => {
    const weights = await loadSafetensors(
      join(repoRoot, 'models/fashion-mnist/unet/diffusion_pytorch_model.safetensors'),
    );
    let n = 0;
    // time_proj.W is diffusers' second name of the fourier time_proj.weight: one parameter
    for (const [k, t] of weights.tensors) if (k !== 'time_proj.W') n += t.data.length;
    assert.ok(weights.tensors.has('time_proj.weight'));
    assert.equal(unetFootprint(bundled, 32, 32).parameters, n);
  });

  it('sums intermediates and the live peak of a graph exactly', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', 10]);
    const a = g.op('Relu', [x], {}, ['batch', 10]); // 40 bytes a row
    const b = g.concat([a, a], 1); // 80
    const c = g.op('Relu', [b], {}, ['batch', 20]); // 80; a is dead by now, b dies after
    g.output(c);
    assert.deepEqual(graphMemory(g, 3), { intermediates: 3 * 200, peak: 3 * 160 });
  });

  it('refuses a [2048, 2048] config with the estimate and the flags to change, before allocating', () => {
    const big = resolveUnetConfig({
      ...MICRO_CONFIG,
      block_out_channels: [2048, 2048],
      down_block_types: ['DownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'UpBlock2D'],
      norm_num_groups: 32,
    });
    assert.throws(
      () => checkTrainingMemory(big, [8, 8], 16, 8 * 2 ** 30),
      (e: Error) =>
        e instanceof ConfigError &&
        /needs about \d+\.\d GiB of memory \(parameters and gradients .* GiB, Adam moments and EMA .*\), more than --max-memory \(8\.0 GiB\); lower --batch-size/.test(
          e.message,
        ),
    );
    assert.ok(checkTrainingMemory(bundled, [32, 32], 64, 8 * 2 ** 30) < 2 * 2 ** 30);
  });

  it('train --batch-size 64 under a 4 GB address-space cap is refused with the estimate, exit 1', () => {
    const r = spawnSync(
      'prlimit',
      [
        '--as=4000000000',
        process.execPath,
        '--disable-wasm-trap-handler', // wasm's guard regions alone would exceed the cap
        '--import',
        'tsx',
        join(repoRoot, 'src/cli/main.ts'),
        'train',
        '--config',
        've-gray-32',
        '--data',
        data,
        '--out',
        join(tmp, 'capped'),
        '--steps',
        '1',
        '--batch-size',
        '64',
      ],
      { cwd: repoRoot, env: { ...process.env, MALLOC_ARENA_MAX: '2' }, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^scoresde: training 3,695,841 parameters at batch size 64 needs about .* more than this process's address-space limit \(ulimit -v\) \(3\.7 GiB\); lower --batch-size/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
