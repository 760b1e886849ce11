// Public exports of src/onnx

export {
  COMPOSITE_RULES,
  type CompositeContext,
  type CompositeRule,
  GRADIENT_RULES,
  type GradRule,
  grad,
  type RuleContext,
} from './autodiff/index.js';
export { countFlops } from './flops.js';
export {
  type Composite,
  type Dim,
  GraphBuilder,
  type GraphNode,
  type Initializer,
  IR_VERSION,
  OPSET,
  type ValueInfo,
} from './graph.js';
export { type ConvPath, lowerConvsToNchwc, NCHWC_DOMAIN, type NchwcLowering } from './nchwc.js';
export { type DecodedModel, decodeModel, encodeModel, type ModelInit, type OnnxDType } from './proto.js';
export {
  type ConvPathOption,
  checkExecutionProviders,
  type ExecutionProvider,
  nchwcBlockSize,
  OnnxSession,
  type OnnxSessionOptions,
  resolveConvPath,
} from './session.js';
