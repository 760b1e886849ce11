// Public exports of src/gradients: what training, likelihoods and evaluation share below them: the score
// model's input VJP graph, parameters as graph inputs, and torch's Adam.

export { Adam, type AdamOptions } from './adam.js';
export { InputParams } from './input-params.js';
export { ScoreVjpGraph, type ScoreVjpOptions, type ScoreVjpResult } from './score-vjp.js';
