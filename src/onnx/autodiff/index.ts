// Public exports of src/onnx/autodiff: reverse-mode gradients of GraphBuilder graphs.
export { grad } from './grad.js';
export { COMPOSITE_RULES } from './rules/composite.js';
export { RULES as GRADIENT_RULES } from './rules/index.js';
export type { CompositeContext, CompositeRule, GradRule, RuleContext } from './types.js';
