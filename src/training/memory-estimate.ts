/** The memory a training run needs, checked before any parameter is allocated. */
import { checkMemory, memoryBudget } from '../memory-budget.js';
import type { UNet2DConfig } from '../models/unet-2d/config.js';
import { unetFootprint } from '../models/unet-2d/memory-estimate.js';

/**
 * Float32 copies of the parameters a run holds: weights and gradients (2), Adam's two moments and the EMA
 * (3), and a checkpoint's serialised weights, EMA and moments (4).
 */
const PARAMETER_COPIES = { 'parameters and gradients': 2, 'Adam moments and EMA': 3, 'checkpoint buffer': 4 };

/**
 * The share of all forward intermediates a gradient graph holds at its peak. Measured peak RSS less ~150 MiB
 * of process and the parameters, over the intermediates (BENCHMARKS.md's training-step table): fashion-mnist
 * at batch 64 0.64, ve-gray-32 at 8 0.49, tiny-ncsnpp at 8 0.79; 0.8 keeps the estimate above each.
 */
const GRADIENT_GRAPH_SHARE = 0.8;

/** What a gradient graph over `rows` images is, for a memory check. */
interface GradientGraph {
  /** What is refused, from the parameter count. */
  what: (parameters: number) => string;
  /** Float32 copies of the parameters it holds, by name. */
  copies: Record<string, number>;
  remedy: string;
}

/**
 * A check that refuses a gradient graph (a training step, a likelihood VJP) over `rows` images of `size` whose
 * estimate exceeds `maxMemory` (default: the machine's): the parameter copies, plus the activations the graph
 * keeps. Returns the estimate.
 */
const gradientGraphCheck =
  (graph: (rows: number) => GradientGraph) =>
  (cfg: UNet2DConfig, size: readonly [number, number], rows: number, maxMemory?: number): number => {
    const run = graph(rows);
    const f = unetFootprint(cfg, size[0], size[1]);
    const parts = Object.entries(run.copies).map(
      ([name, copies]) => [name, copies * 4 * f.parameters] as const,
    );
    const activations = Math.ceil(GRADIENT_GRAPH_SHARE * rows * f.activationBytesPerImage);
    return checkMemory(
      run.what(f.parameters),
      [...parts, [`activations of ${rows} images`, activations]],
      memoryBudget(maxMemory),
      run.remedy,
    );
  };

/**
 * Refuses a config and batch size (`rows`) whose estimate exceeds `maxMemory` (default: the machine's):
 * parameter copies, and the forward intermediates the backward pass keeps.
 */
export const checkTrainingMemory = gradientGraphCheck((batchSize) => ({
  what: (n) => `training ${n.toLocaleString('en-US')} parameters at batch size ${batchSize}`,
  copies: PARAMETER_COPIES,
  remedy: "lower --batch-size, or the config's block_out_channels or layers_per_block",
}));

/**
 * Refuses a likelihood run whose score VJP over `rows` images a call exceeds `maxMemory` (default: the
 * machine's): the weights (a copy in the session) and the gradient graph's activations.
 */
export const checkVjpMemory = gradientGraphCheck((rows) => ({
  what: () => `the likelihood of ${rows} images a network call`,
  copies: { weights: 2 },
  remedy: 'lower --batch-size',
}));
