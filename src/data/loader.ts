/**
 * Training batches from an `ImageDataset` in torch's `DataLoader(dataset, batch_size, shuffle=True,
 * generator=g, drop_last=True)` order, bit for bit (every word torch draws per epoch is drawn), with an
 * optional random horizontal flip (torchvision's `RandomHorizontalFlip(0.5)` rule: one `torch.rand(1)`
 * draw per image, flipped when < 0.5, here from the loader's generator, in batch order, after the epoch's
 * order). Its position is plain data, so a resumed run sees the same batches bit for bit.
 */
import { ConfigError } from '../errors.js';
import { Generator, type GeneratorState } from '../random/generator.js';
import { mapLimit } from './map-limit.js';
import { randperm } from './randperm.js';
import type { ImageDataset } from './types.js';

export interface DataLoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Where shuffling and flips draw from; default a fresh `Generator` seeded with `seed`. */
  generator?: Generator;
  /** Seed of the default generator (torch's default seed when neither is given). */
  seed?: number | bigint;
  /** A new random order every epoch (default true); false reads in dataset order. */
  shuffle?: boolean;
  /** Random horizontal flip with p = 0.5 (default false). */
  flip?: boolean;
  /** Drop the last incomplete batch of an epoch, so every batch has `batchSize` images (default true). */
  dropLast?: boolean;
  /** Images decoded at once (default 8). */
  concurrency?: number;
}

/** A loader's position: JSON-safe, for checkpoints. */
export interface DataLoaderState {
  /** Dataset size and loader settings, checked on restore. */
  length: number;
  batchSize: number;
  shuffle: boolean;
  flip: boolean;
  dropLast: boolean;
  /** Epochs completed. */
  epoch: number;
  /** Images of this epoch's order already served. */
  index: number;
  /** The generator when this epoch's order was drawn (null before it is drawn), to redraw it on restore. */
  epochStart: GeneratorState | null;
  /** The generator now. */
  generator: GeneratorState;
}

export interface Batch {
  /** (B, C, H, W) float32 in [0, 1]. */
  x: Float32Array;
  shape: [number, number, number, number];
  /** The dataset indices of the rows. */
  indices: Uint32Array;
  /** 1 where the row was flipped. */
  flipped: Uint8Array;
  /** The rows' labels when the dataset has labels. */
  labels?: Uint8Array;
  /** The epoch this batch belongs to (0-based). */
  epoch: number;
}

/** Reverses every row of one (C, H, W) image in place. */
export function flipRows(x: Float32Array, offset: number, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) x.subarray(offset + r * width, offset + (r + 1) * width).reverse();
}

export class DataLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly flip: boolean;
  readonly dropLast: boolean;
  readonly generator: Generator;
  readonly #concurrency: number;
  #epoch = 0;
  #index = 0;
  #order: Uint32Array | null = null;
  #epochStart: GeneratorState | null = null;
  #busy = false;

  constructor(dataset: ImageDataset, options: DataLoaderOptions) {
    const {
      batchSize,
      generator,
      seed,
      shuffle = true,
      flip = false,
      dropLast = true,
      concurrency = 8,
    } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ConfigError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (dataset.length < 1) throw new ConfigError(`DataLoader: ${dataset.source} has no images`);
    if (dropLast && dataset.length < batchSize) {
      throw new ConfigError(
        `DataLoader: ${dataset.source} has ${dataset.length} images, fewer than one batch of ${batchSize}`,
      );
    }
    if (generator !== undefined && !(generator instanceof Generator)) {
      throw new TypeError('DataLoader: generator must be a Generator');
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.flip = flip;
    this.dropLast = dropLast;
    this.generator = generator ?? (seed === undefined ? new Generator() : new Generator().manualSeed(seed));
    this.#concurrency = Math.max(1, Math.floor(concurrency));
  }

  /** Epochs completed so far. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  #ensureOrder(): Uint32Array {
    if (this.#order) return this.#order;
    this.#epochStart = this.generator.getState();
    this.#order = this.#drawOrder(this.generator);
    return this.#order;
  }

  /**
   * The next batch; epochs follow one another without end. One call at a time; if a read fails the
   * position and generator are left as they were, so the same batch can be asked for again.
   */
  async nextBatch(signal?: AbortSignal): Promise<Batch> {
    if (this.#busy) throw new Error('DataLoader.nextBatch: the previous batch is still being read');
    this.#busy = true;
    const before = { gen: this.generator.getState(), order: this.#order, epochStart: this.#epochStart };
    try {
      const order = this.#ensureOrder();
      const n = order.length;
      const start = this.#index;
      const end = Math.min(start + this.batchSize, n);
      const indices = order.slice(start, end);
      const B = indices.length;
      const { channels: C, height: H, width: W, labels } = this.dataset;
      const flipped = new Uint8Array(B);
      if (this.flip) for (let b = 0; b < B; b++) flipped[b] = this.generator.nextFloat() < 0.5 ? 1 : 0;
      const size = C * H * W;
      const x = new Float32Array(B * size);
      await mapLimit(
        Array.from(indices),
        this.#concurrency,
        (i, b) => this.dataset.read(i, x, b * size),
        signal,
      );
      for (let b = 0; b < B; b++) if (flipped[b]) flipRows(x, b * size, C * H, W);
      const batch: Batch = { x, shape: [B, C, H, W], indices, flipped, epoch: this.#epoch };
      if (labels) batch.labels = Uint8Array.from(indices, (i) => labels[i]);
      // advance only once the batch is complete
      this.#index = end;
      if (this.dropLast ? end + this.batchSize > n : end >= n) {
        this.#epoch++;
        this.#index = 0;
        this.#order = null;
        this.#epochStart = null;
      }
      return batch;
    } catch (e) {
      this.generator.setState(before.gen);
      this.#order = before.order;
      this.#epochStart = before.epochStart;
      throw e;
    } finally {
      this.#busy = false;
    }
  }

  /** The position, for a checkpoint. */
  state(): DataLoaderState {
    return {
      length: this.dataset.length,
      batchSize: this.batchSize,
      shuffle: this.shuffle,
      flip: this.flip,
      dropLast: this.dropLast,
      epoch: this.#epoch,
      index: this.#index,
      epochStart: this.#epochStart,
      generator: this.generator.getState(),
    };
  }

  /** Continues from a {@link state} taken with the same dataset and settings; checks it first. */
  restore(state: DataLoaderState): this {
    const where = 'DataLoader.restore';
    if (typeof state !== 'object' || state === null) throw new TypeError(`${where}: state must be an object`);
    for (const k of ['length', 'batchSize', 'shuffle', 'flip', 'dropLast'] as const) {
      const mine = k === 'length' ? this.dataset.length : this[k];
      if (state[k] !== mine) {
        throw new ConfigError(`${where}: the state has ${k} ${state[k]}, this loader ${mine}`);
      }
    }
    const { epoch, index, epochStart, generator } = state;
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`${where}: bad epoch ${epoch}`);
    if (!Number.isInteger(index) || index < 0 || index >= this.dataset.length) {
      throw new RangeError(`${where}: index ${index} is outside [0, ${this.dataset.length})`);
    }
    if (epochStart === null && index !== 0) {
      throw new RangeError(`${where}: index ${index} inside an epoch whose order was never drawn`);
    }
    // validate both generator states on scratch generators before touching ours
    const order = epochStart === null ? null : this.#orderFrom(epochStart);
    new Generator().setState(generator);
    this.generator.setState(generator);
    this.#epoch = epoch;
    this.#index = index;
    this.#order = order;
    this.#epochStart = epochStart;
    return this;
  }

  #orderFrom(epochStart: GeneratorState): Uint32Array {
    return this.#drawOrder(new Generator({ path: this.generator.path }).setState(epochStart));
  }

  /**
   * One epoch's order, drawing what torch 1.13's DataLoader draws from its generator per epoch: the
   * workers' `_base_seed` (an int64 `random_()`: one 64-bit draw, two words), RandomSampler's
   * `randperm(n)`, and, once the sampler runs out, the `randperm(n)[:0]` of its tail line (n - 1 words
   * for nothing). The last is drawn here with the rest; only flips could tell, and torch has no such flips.
   */
  #drawOrder(generator: Generator): Uint32Array {
    const n = this.dataset.length;
    if (!this.shuffle) return Uint32Array.from({ length: n }, (_, i) => i);
    generator.nextUint32();
    generator.nextUint32();
    const order = randperm(n, generator);
    for (let i = 0; i < n - 1; i++) generator.nextUint32();
    return order;
  }
}
