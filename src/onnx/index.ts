// Public exports of src/onnx (filled in as the area grows).
export {};
