/**
 * TEMPORARY batch loader until src/data's DataLoader lands: epoch-wise shuffling (Fisher–Yates on the
 * torch-exact Generator's words), optional horizontal flips, and a serialisable position.
 */
import type { ImageDataset } from '../data/types.js';
import type { Generator } from '../random/index.js';

export interface BatchLoader {
  /** Fills `out` (B, C, H, W) with the next batch. */
  next(out: Float32Array): Promise<void>;
  /** The position, as plain JSON. */
  state(): unknown;
  restore(state: unknown): void;
}

export function createBatchLoader(
  dataset: ImageDataset,
  options: { batchSize: number; generator: Generator; flip: boolean },
): BatchLoader {
  const { batchSize, generator, flip } = options;
  const n = dataset.length;
  const { channels: c, height: h, width: w } = dataset;
  let order: number[] = [];
  let pos = 0;
  let epoch = 0;
  const shuffle = () => {
    order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(generator.nextFloat() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    pos = 0;
    epoch++;
  };
  return {
    async next(out) {
      const size = c * h * w;
      for (let b = 0; b < batchSize; b++) {
        if (pos >= order.length) shuffle();
        await dataset.read(order[pos++], out, b * size);
        if (flip && generator.nextFloat() < 0.5) {
          for (let p = 0; p < c * h; p++) out.subarray(b * size + p * w, b * size + (p + 1) * w).reverse();
        }
      }
    },
    state: () => ({ order, pos, epoch }),
    restore(s) {
      const st = s as { order: number[]; pos: number; epoch: number };
      order = [...st.order];
      pos = st.pos;
      epoch = st.epoch;
    },
  };
}
