/**
 * Reverse-mode automatic differentiation over the GraphBuilder IR: appends the backward pass to the graph as
 * standard ONNX (opset 17) nodes that onnxruntime's CPU provider runs, so one session computes the forward
 * values and every requested gradient.
 *
 * A composite op the builder tagged (GraphBuilder.composite: GroupNorm, SiLU, FIR resampling, attention) is
 * differentiated as one op by its adjoint in rules/composite.ts, unless one of its internal values is read from
 * outside or is itself a `wrt` value (then its nodes are differentiated one by one); a composite kind without an
 * adjoint fails here, with its name.
 *
 * Only nodes that both depend on a `wrt` value and feed the loss are differentiated. Where a value fans out,
 * the gradients of its consumers are summed. Integer values (indices, shapes) stop the gradient. Each rule
 * reads as few forward values as it can (e.g. Sigmoid' from the output), so that onnxruntime can free the
 * other activations as soon as the forward has used them.
 */
import type { Composite, GraphBuilder, GraphNode } from '../graph.js';
import { COMPOSITE_RULES } from './rules/composite.js';
import { RULES } from './rules/index.js';
import type { GradOptions, RuleContext } from './types.js';
import { zerosLike } from './util.js';

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

/**
 * Appends d `loss` / d `wrt[i]` to `g` and returns the gradient value name for each `wrt` (a zero constant for
 * a value the loss does not depend on). `loss` is usually a scalar; otherwise the seed is a tensor of ones,
 * i.e. the gradient of the sum of its elements. `options.nchwcBlock`: the graph will be lowered to the blocked
 * convolutions afterwards (GradOptions). Two marking passes (what varies, what feeds the loss), then one reverse
 * sweep: the algorithm, kept in one body.
 */
export function grad(
  g: GraphBuilder,
  loss: string,
  wrt: string[],
  options: GradOptions = {},
): Map<string, string> {
  const nodes = [...g.nodes];
  const producer = new Map<string, GraphNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const isFloat = (v: string) => v !== '' && FLOAT_TYPES.has(g.info(v).dtype);

  // Values that depend on a wrt value (forward sweep).
  const varies = new Set<string>(wrt.filter(isFloat));
  for (const n of nodes) {
    if (n.inputs.some((i) => varies.has(i))) for (const o of n.outputs) if (isFloat(o)) varies.add(o);
  }
  // Values the loss depends on (backward sweep).
  const feeds = new Set<string>([loss]);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (n.outputs.some((o) => feeds.has(o))) for (const i of n.inputs) if (i !== '') feeds.add(i);
  }

  const targets = new Set(wrt);

  // Composites differentiated whole: their nodes' outputs other than the result are read only inside them.
  const compositeOf = new Map<GraphNode, Composite>();
  {
    const readers = new Map<string, GraphNode[]>();
    for (const n of nodes)
      for (const i of n.inputs) {
        const list = readers.get(i);
        if (list) list.push(n);
        else readers.set(i, [n]);
      }
    const graphOutputs = new Set(g.outputs.map((o) => o.name));
    for (const c of g.composites) {
      const members = [...c.nodes];
      if (!members.every((n) => producer.get(n.outputs[0]) === n)) continue; // rewritten since
      const sealed = members.every((n) =>
        n.outputs.every(
          (o) =>
            o === c.output ||
            (!targets.has(o) && !graphOutputs.has(o) && (readers.get(o) ?? []).every((r) => c.nodes.has(r))),
        ),
      );
      if (!sealed) continue;
      if (!COMPOSITE_RULES[c.kind])
        throw new RangeError(`autodiff: no gradient rule for the composite ${c.kind} (${c.name})`);
      for (const n of members) compositeOf.set(n, c);
    }
  }
  const contributions = new Map<string, string[]>();
  const add = (v: string, d: string) => {
    const list = contributions.get(v);
    if (list) list.push(d);
    else contributions.set(v, [d]);
  };
  /** The summed gradient of `v`, or undefined when nothing reached it. */
  const total = (v: string): string | undefined => {
    const list = contributions.get(v);
    if (!list) return undefined;
    if (list.length > 1) {
      const s = g.op('Sum', list, {}, g.shape(v), g.info(v).dtype);
      contributions.set(v, [s]);
      return s;
    }
    return list[0];
  };

  if (varies.has(loss)) {
    const dims = g.shape(loss);
    const seed = dims.every((d) => typeof d === 'number')
      ? g.constFloat(
          new Float32Array((dims as number[]).reduce((p, d) => p * d, 1)).fill(1),
          dims as number[],
        )
      : g.add(zerosLike(g, loss), g.constFloat([1], []));
    add(loss, seed);
  }

  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    const composite = compositeOf.get(node);
    if (composite) {
      // The whole composite at its result's node; its other nodes get no gradient of their own.
      const out = composite.output;
      if (!node.outputs.includes(out) || !varies.has(out) || !feeds.has(out)) continue;
      const dy = total(out);
      if (dy === undefined) continue;
      const needs = (i: number) => composite.inputs[i] !== undefined && varies.has(composite.inputs[i]);
      const grads = g.scoped('grad', () =>
        g.scoped(composite.kind, () => COMPOSITE_RULES[composite.kind]({ g, composite, dy, needs })),
      );
      grads.forEach((d, i) => {
        if (d !== undefined && needs(i)) add(composite.inputs[i], d);
      });
      continue;
    }
    if (!node.outputs.some((o) => varies.has(o) && feeds.has(o))) continue;
    if (node.outputs.length !== 1)
      throw new RangeError(`autodiff: ${node.opType} with several outputs (node ${node.name})`);
    const out = node.outputs[0];
    const dy = total(out);
    if (dy === undefined) continue;
    const rule = node.domain ? undefined : RULES[node.opType];
    if (!rule)
      throw new RangeError(
        `autodiff: no gradient rule for ${node.domain ? `${node.domain}:` : ''}${node.opType} (node ${node.name})`,
      );
    const ctx: RuleContext = {
      g,
      node,
      dy,
      needs: (i) => node.inputs[i] !== undefined && varies.has(node.inputs[i]),
      producer: (v) => producer.get(v),
      isTarget: (v) => targets.has(v),
      options,
    };
    const grads = g.scoped(`grad`, () => rule(ctx));
    grads.forEach((d, i) => {
      if (d !== undefined && ctx.needs(i)) add(node.inputs[i], d);
    });
  }

  const result = new Map<string, string>();
  for (const w of wrt) result.set(w, total(w) ?? zerosLike(g, w));
  return result;
}
