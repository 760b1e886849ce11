/** Shared by the training tests: a tiny model config and a tiny image folder, both fast to train on. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePNG } from '../../src/io/index.js';

/** 1×8×8, fourier, one attention level: a few thousand parameters, tens of milliseconds per step. */
export const MICRO_CONFIG = Object.freeze({
  sample_size: 8,
  in_channels: 1,
  out_channels: 1,
  time_embedding_type: 'fourier',
  block_out_channels: [8, 16],
  down_block_types: ['DownBlock2D', 'AttnDownBlock2D'],
  up_block_types: ['AttnUpBlock2D', 'UpBlock2D'],
  layers_per_block: 1,
  attention_head_dim: 8,
  norm_num_groups: 4,
});

/** Writes `n` 8×8 grayscale PNGs (diagonal stripes at different phases) into `dir`; returns `dir`. */
export function writeStripeImages(dir: string, n: number): string {
  mkdirSync(dir, { recursive: true });
  for (let k = 0; k < n; k++) {
    const data = new Uint8Array(64);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) data[y * 8 + x] = (x + y + k) % 4 < 2 ? 230 : 20;
    writeFileSync(
      join(dir, `img-${String(k).padStart(2, '0')}.png`),
      encodePNG({ width: 8, height: 8, channels: 1, data }),
    );
  }
  return dir;
}

/** Command-line flags from a record, in its order: `{ out: 'x', flip: true }` → `--out x --flip`. */
export function flagArgs(flags: Record<string, string | number | true>): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, String(v)]));
}
