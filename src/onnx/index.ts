// Public exports of src/onnx

export { GRADIENT_RULES, type GradRule, grad, type RuleContext } from './autodiff/index.js';
export { countFlops } from './flops.js';
export {
  type Dim,
  GraphBuilder,
  type GraphNode,
  type Initializer,
  IR_VERSION,
  OPSET,
  type ValueInfo,
} from './graph.js';
export { type DecodedModel, decodeModel, encodeModel, type ModelInit, type OnnxDType } from './proto.js';
export {
  checkExecutionProviders,
  type ExecutionProvider,
  OnnxSession,
  type OnnxSessionOptions,
} from './session.js';
