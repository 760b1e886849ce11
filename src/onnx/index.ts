// Public exports of src/onnx
export {
  GraphBuilder,
  IR_VERSION,
  OPSET,
  type Dim,
  type GraphNode,
  type Initializer,
  type ValueInfo,
} from './graph.js';
export { countFlops } from './flops.js';
export { decodeModel, encodeModel, type DecodedModel, type ModelInit, type OnnxDType } from './proto.js';
export {
  checkExecutionProviders,
  type ExecutionProvider,
  OnnxSession,
  type OnnxSessionOptions,
} from './session.js';
