/** A UNet's parameter count and per-image activation memory, from a shape-only build of its graph. */
import { graphMemory } from '../../onnx/memory.js';
import { buildUnetGraph } from './build.js';
import type { UNet2DConfig } from './config.js';
import { ParamTable } from './weights.js';

export interface UnetFootprint {
  /** Parameters (float32 values). */
  parameters: number;
  /** Every parameter's shape, by state-dict name. */
  shapes: ReadonlyMap<string, readonly number[]>;
  /** Bytes of all forward intermediates for one image (a training step keeps them for the backward pass). */
  activationBytesPerImage: number;
  /** Most forward bytes alive at once for one image (inference). */
  peakBytesPerImage: number;
}

/** Counts without allocating a parameter or an activation. */
export function unetFootprint(cfg: UNet2DConfig, height: number, width: number): UnetFootprint {
  const table = new ParamTable(null);
  const g = buildUnetGraph(cfg, table, { height, width, batch: 1 });
  let parameters = 0;
  for (const dims of table.expected.values()) parameters += dims.reduce((p, d) => p * d, 1);
  const { intermediates, peak } = graphMemory(g, 1);
  return {
    parameters,
    shapes: table.expected,
    activationBytesPerImage: intermediates,
    peakBytesPerImage: peak,
  };
}
