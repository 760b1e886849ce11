import { DEFAULT_SAMPLING } from '../src/pipelines/default-sampling.js';

/**
 * The demo's default model: a folder URL (relative to the page) holding config.json,
 * diffusion_pytorch_model.safetensors and optionally scheduler_config.json. `npm run web` serves
 * test/fixtures/models/ (and models/, where the project's trained models go) under /models/.
 * The default is the bundled Fashion-MNIST model (models/fashion-mnist). To switch the demo to another model, change this line (or open the page with ?model=<url>); gray
 * (1-channel) models such as a Fashion-MNIST one work as they are.
 */
export const DEFAULT_MODEL_URL = 'models/fashion-mnist/';

/** The sampler and steps the demo starts with: the bundled model's own default, as `scoresde sample` uses it. */
export const DEFAULT_SAMPLER = DEFAULT_SAMPLING.sampler;
export const DEFAULT_STEPS = DEFAULT_SAMPLING.steps;
/** Samplers the default model's card advises against, with why: the demo marks them while it is loaded. */
export const DEFAULT_NOT_ADVISED = DEFAULT_SAMPLING.notAdvised;
/** heun's churn the demo starts with: the default's, else 0 (deterministic). */
export const DEFAULT_CHURN = DEFAULT_SAMPLING.options.churn ?? 0;
/** The noise-norm correction's switch σ the demo starts with on the default model (undefined: off). */
export const DEFAULT_GAUSSIAN_NORM_ABOVE = DEFAULT_SAMPLING.options.gaussianNormAbove;
/** The Gaussian switch σ the demo starts with on the default model (undefined: off). */
export const DEFAULT_GAUSSIAN_ABOVE = DEFAULT_SAMPLING.options.gaussianAbove;

/** The Hub endpoint a repo id loads from (`<endpoint>/<repo>/resolve/main/<file>`); editable in the page. */
export { DEFAULT_HUB_ENDPOINT } from '../src/io/hub/config.js';
