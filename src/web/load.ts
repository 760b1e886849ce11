/**
 * Loads a ScoreSdeVe model in the browser from a folder URL or a Hub repo id over HTTP: config.json +
 * diffusion_pytorch_model.safetensors (+ scheduler_config.json), in either diffusers layout (a bare UNet
 * folder, or a pipeline with unet/ and scheduler/). Errors name the URL and the problem.
 */

import { gaussianFromSafetensors } from '../diagnostics/gaussian-format.js';
import { ConfigError, FileFormatError } from '../errors.js';
import { parseSafetensors } from '../io/safetensors.js';
import type { GaussianStatistics } from '../math/gaussian.js';
import type { Tensor } from '../tensor.js';

/** The file name of the training data's Gaussian in a model folder (statistics-file.ts's GAUSSIAN_FILE). */
const GAUSSIAN_FILE = 'gaussian.safetensors';

import { type FetchFileOptions, fetchModelFile, ModelFetchError } from './fetch-file.js';

/** Where a model lives: a folder URL, or a Hub repo id served at `<endpoint>/<repo>/resolve/<revision>/<file>`. */
export type ModelSource = { url: string } | { repo: string; endpoint: string; revision?: string };

/** The files of a model, parsed and checked for type (not yet built). */
export interface ModelFiles {
  /** UNet config.json as parsed. */
  config: Record<string, unknown>;
  stateDict: Map<string, Tensor>;
  /** scheduler_config.json as parsed, when the model has one. */
  schedulerConfig: Record<string, unknown> | null;
  /** URLs, for messages. */
  configUrl: string;
  weightsUrl: string;
  schedulerUrl: string;
  /** The folder the files came from: a pipeline's, or the bare UNet's (where gaussian.safetensors would sit). */
  folder: ModelSource;
}

export interface LoadModelFilesOptions extends Omit<FetchFileOptions, 'validate'> {}

const REPO_ID = /^[\w.-]+(\/[\w.-]+)?$/;

/** The URL of `file` in `source` (folder URLs gain a trailing '/'). */
export function modelFileUrl(source: ModelSource, file: string): string {
  if ('url' in source) {
    const base = source.url.endsWith('/') ? source.url : `${source.url}/`;
    return new URL(file, new URL(base, (globalThis as { location?: { href: string } }).location?.href)).href;
  }
  if (!REPO_ID.test(source.repo) || source.repo.includes('..'))
    throw new ConfigError(`invalid Hub repo id ${JSON.stringify(source.repo)} (expected "owner/name")`);
  const endpoint = source.endpoint.replace(/\/+$/, '');
  const revision = encodeURIComponent(source.revision ?? 'main');
  return `${endpoint}/${source.repo}/resolve/${revision}/${file}`;
}

function parseJson(url: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    const start = new TextDecoder().decode(bytes.subarray(0, 15)).trim();
    const html = start.startsWith('<') ? ' (got an HTML page: is the URL a model folder?)' : '';
    throw new FileFormatError(url, `not a JSON config file${html}: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FileFormatError(url, 'the config is not a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Fetches and parses a model's files: a diffusers pipeline's unet/ and scheduler/ (when the folder has a
 * model_index.json, or no config.json), else config.json, the weights and an optional scheduler_config.json in
 * the folder.
 */
export async function loadModelFiles(
  source: ModelSource,
  options: LoadModelFilesOptions = {},
): Promise<ModelFiles> {
  const get = (file: string, validate?: (b: Uint8Array) => void) =>
    fetchModelFile(modelFileUrl(source, file), { ...options, validate });
  const getOptional = (file: string, validate?: (b: Uint8Array) => void) =>
    fetchModelFile(modelFileUrl(source, file), { ...options, validate, optional: true });

  const jsonCheck = (file: string) => (b: Uint8Array) => void parseJson(modelFileUrl(source, file), b);
  // A diffusers pipeline folder (what scoresde train writes, the bundled model, the Hub's ncsnpp repos) has
  // model_index.json and its UNet under unet/; a bare UNet folder has config.json at its root. model_index.json
  // is read first, so a pipeline loads with no 404 (a browser logs every failed request as a console error).
  const index = await getOptional('model_index.json', jsonCheck('model_index.json'));
  let pipeline = index !== null;
  let configBytes = pipeline ? null : await getOptional('config.json', jsonCheck('config.json'));
  if (configBytes === null) {
    pipeline = true;
    configBytes = await get('unet/config.json', jsonCheck('unet/config.json')).catch((e: Error) => {
      if ((e as { status?: number }).status !== 404) throw e;
      throw new ModelFetchError(
        modelFileUrl(source, 'config.json'),
        'HTTP 404: no config.json here (nor model_index.json and unet/config.json); is the model URL or repo id right?',
        404,
      );
    });
  }
  const unet = pipeline ? 'unet/' : '';
  const configUrl = modelFileUrl(source, `${unet}config.json`);
  const config = parseJson(configUrl, configBytes!);
  if (config._class_name !== undefined && config._class_name !== 'UNet2DModel') {
    throw new ConfigError(
      `${configUrl}: the model is a ${String(config._class_name)}, but only UNet2DModel (ScoreSdeVe) models load here`,
    );
  }
  const schedulerFile = pipeline ? 'scheduler/scheduler_config.json' : 'scheduler_config.json';
  const schedulerUrl = modelFileUrl(source, schedulerFile);
  const schedulerBytes = await getOptional(schedulerFile, jsonCheck(schedulerFile));
  const schedulerConfig = schedulerBytes ? parseJson(schedulerUrl, schedulerBytes) : null;

  const weightsFile = `${unet}diffusion_pytorch_model.safetensors`;
  const weightsUrl = modelFileUrl(source, weightsFile);
  const weights = await get(weightsFile, (b) => void parseSafetensors(b, weightsUrl)).catch((e: Error) => {
    if ((e as { status?: number }).status !== 404) throw e;
    throw new FileFormatError(weightsUrl, 'not found (the browser build reads .safetensors weights only)');
  });
  return {
    config,
    stateDict: parseSafetensors(weights, weightsUrl).tensors,
    schedulerConfig,
    configUrl,
    weightsUrl,
    schedulerUrl,
    folder: source,
  };
}

/**
 * The training data's Gaussian beside a model (`gaussian.safetensors`, statistics-file.ts), for the samplers'
 * `gaussianAbove` / `gaussianNormAbove`. Fetched only when asked for, so a model without one loads with no 404.
 */
export async function loadModelGaussian(
  source: ModelSource,
  options: LoadModelFilesOptions = {},
): Promise<GaussianStatistics> {
  const url = modelFileUrl(source, GAUSSIAN_FILE);
  const bytes = await fetchModelFile(url, {
    ...options,
    validate: (b) => void gaussianFromSafetensors(parseSafetensors(b, url), url),
  }).catch((e: Error) => {
    if ((e as { status?: number }).status !== 404) throw e;
    throw new FileFormatError(
      url,
      "not found: gaussianAbove and gaussianNormAbove need the training data's Gaussian beside the model",
    );
  });
  return gaussianFromSafetensors(parseSafetensors(bytes, url), url);
}
