/**
 * Memory of one run of a built graph, from its shapes alone (nothing is allocated): the bytes of every
 * intermediate value (what a backward pass keeps), and the peak of the values alive at once when each is
 * freed after its last reader (what an inference run needs at least).
 */
import type { Dim, GraphBuilder } from './graph.js';

const BYTES: Record<string, number> = { float32: 4, int64: 8, int32: 4, bool: 1, float64: 8 };

export interface GraphMemory {
  /** Bytes of all node outputs together. */
  intermediates: number;
  /** Most bytes of node outputs alive at one time, in node order. */
  peak: number;
}

/** Memory of one run with every free (named) dimension set to `freeDim` (the batch size). */
export function graphMemory(g: GraphBuilder, freeDim = 1): GraphMemory {
  const size = (d: Dim) => (typeof d === 'number' ? d : freeDim);
  const bytesOf = (name: string) => {
    const { dims, dtype } = g.info(name);
    return dims.reduce<number>((p, d) => p * size(d), BYTES[dtype] ?? 4);
  };
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, i) => {
    for (const v of n.inputs) lastUse.set(v, i);
  });
  for (const o of g.outputs) lastUse.set(o.name, g.nodes.length);
  const freeAt: number[][] = Array.from({ length: g.nodes.length + 1 }, () => []);
  let intermediates = 0;
  let live = 0;
  let peak = 0;
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      const b = bytesOf(o);
      intermediates += b;
      live += b;
      freeAt[lastUse.get(o) ?? i].push(b);
    }
    peak = Math.max(peak, live);
    for (const b of freeAt[i]) live -= b;
  });
  return { intermediates, peak };
}
