/** scoresde: score-based generative modelling (Score SDE, VE) in TypeScript. */

export * from './data/index.js';
export * from './errors.js';
export * from './evaluation/index.js';
export * from './gradients/index.js';
export * from './io/index.js';
export * from './likelihood/index.js';
export * from './models/unet-2d/index.js';
export * from './onnx/index.js';
export * from './pipelines/index.js';
export * from './random/index.js';
export * from './samplers/index.js';
export * from './schedulers/index.js';
export * from './tensor.js';
export * from './training/index.js';
