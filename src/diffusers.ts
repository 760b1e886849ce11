/** Facts of diffusers v0.23.0 that several layers share (its file formats, its pipeline's defaults). */

/** The diffusers version whose semantics and file formats scoresde reproduces (written as `_diffusers_version`). */
export const DIFFUSERS_VERSION = '0.23.0';

/** ScoreSdeVePipeline.__call__'s default `num_inference_steps`. */
export const DEFAULT_NUM_INFERENCE_STEPS = 2000;
