/**
 * FLOP count of a built graph: 2 × multiply-accumulates of Conv, MatMul and Gemm, as the PyTorch reference
 * counts them (TIMINGS.md). Norms, activations and adds are left out.
 */
import type { Dim, GraphBuilder } from './graph.js';

/** FLOPs of one run, with every free (named) dimension set to `freeDim` (the batch size). */
export function countFlops(g: GraphBuilder, freeDim = 1): number {
  const size = (d: Dim) => (typeof d === 'number' ? d : freeDim);
  const numel = (ds: Dim[]) => ds.reduce<number>((p, d) => p * size(d), 1);
  let flops = 0;
  for (const n of g.nodes) {
    if (n.opType === 'Conv') {
      const w = g.shape(n.inputs[1]); // (M, C/group, kH, kW)
      const macsPerOutput = (w[1] as number) * (w[2] as number) * (w[3] as number);
      flops += 2 * numel(g.shape(n.outputs[0])) * macsPerOutput;
    } else if (n.opType === 'MatMul' || n.opType === 'Gemm') {
      const a = g.shape(n.inputs[0]);
      flops += 2 * numel(g.shape(n.outputs[0])) * size(a[a.length - 1]);
    }
  }
  return flops;
}
