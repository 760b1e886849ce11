/**
 * Checks that a pipeline folder written by scoresde (a training checkpoint, the default model) loads in Python
 * diffusers 0.23 and gives the same UNet outputs. Needs the reference environment (../shared/refenv).
 *   source ../shared/refenv/env.sh && node --import tsx tools/diffusers-load-check/run.ts <pipeline folder>
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, randn, ScoreSdeVePipeline, saveSafetensors, Tensor } from '../../src/index.js';

const folder = process.argv[2];
if (!folder) throw new Error('usage: run.ts <pipeline folder>');
const pipe = await ScoreSdeVePipeline.fromPretrained(folder, { localFilesOnly: true });
const cfg = pipe.unet.config;
const size = typeof cfg.sample_size === 'number' ? [cfg.sample_size, cfg.sample_size] : cfg.sample_size!;
const g = new Generator().manualSeed(0);
const x = randn([2, cfg.in_channels, size[0], size[1]], { generator: g });
const sigma = new Tensor('float32', Float32Array.from([0.05, 7]), [2]);
const { sample } = await pipe.unet.forward(x, sigma);
await pipe.release();
const dir = mkdtempSync(join(tmpdir(), 'scoresde-load-check-'));
const io = join(dir, 'io.safetensors');
await saveSafetensors(
  io,
  new Map<string, Tensor>([
    ['x', x],
    ['sigma', sigma],
    ['output', sample],
  ]),
);
const py = process.env.REF_PY ?? 'python3';
const script = join(dirname(fileURLToPath(import.meta.url)), 'check.py');
const r = spawnSync(py, [script, folder, io], { stdio: 'inherit' });
rmSync(dir, { recursive: true, force: true });
process.exit(r.status ?? 1);
