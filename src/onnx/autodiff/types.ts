/**
 * What a gradient rule sees: the forward node, the gradient of its output, and helpers to emit backward
 * nodes. A rule returns one gradient value name per node input (undefined where the input needs none).
 */
import type { Composite, GraphBuilder, GraphNode } from '../graph.js';

export interface RuleContext {
  g: GraphBuilder;
  node: GraphNode;
  /** d loss / d output (same shape as the output). */
  dy: string;
  /** Whether input `i` needs a gradient (it is float and depends on a `wrt` value). */
  needs(i: number): boolean;
  /** The producer of a value, or undefined for graph inputs and initializers. */
  producer(value: string): GraphNode | undefined;
  /** Whether `value` is one of the `wrt` values (its own gradient is wanted, so it may not be fused away). */
  isTarget(value: string): boolean;
}

export type GradRule = (ctx: RuleContext) => (string | undefined)[];

/** What a composite op's adjoint sees (GraphBuilder.composite). */
export interface CompositeContext {
  g: GraphBuilder;
  composite: Composite;
  /** d loss / d output. */
  dy: string;
  /** Whether composite input `i` needs a gradient. */
  needs(i: number): boolean;
}

/** Returns one gradient per composite input (undefined where none is needed). */
export type CompositeRule = (ctx: CompositeContext) => (string | undefined)[];
