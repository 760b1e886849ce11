/**
 * `downloadDiffusersModel`: fetches what a ScoreSdeVePipeline needs from a Hub repo and returns the
 * snapshot folder, which then loads like a local folder. Two layouts exist on the Hub:
 *   pipeline:   model_index.json, unet/config.json, unet/<weights>, scheduler/scheduler_config.json
 *   root-level: config.json, <weights>, scheduler_config.json or scheduler/scheduler_config.json (older
 *               repos such as the google/ncsnpp-*; some also carry a model_index.json, so the presence of
 *               `unet/config.json` decides)
 */
import { readFile } from 'node:fs/promises';
import { FileFormatError } from '../../errors.js';
import { RepoCache } from './cache-layout.js';
import { resolveHubCacheDir } from './config.js';
import { type HfHubDownloadOptions, type HubFileLocation, hubDownloadFile } from './download.js';
import { EntryNotFoundError, LocalEntryNotFoundError } from './errors.js';

export interface DownloadDiffusersModelOptions extends Omit<HfHubDownloadOptions, 'subfolder'> {
  /** Weights variant, e.g. `'fp16'` → `diffusion_pytorch_model.fp16.safetensors` (diffusers: `variant`). */
  variant?: string;
  /**
   * diffusers' `use_safetensors`: `true` = safetensors only, `false` = `.bin` only, unset = safetensors
   * with a fallback to `.bin` when the repo has none.
   */
  useSafetensors?: boolean;
}

/** Absent on the Hub, or (offline) absent from the cache: either way, try the next candidate. */
function isMissing(e: unknown): e is EntryNotFoundError | LocalEntryNotFoundError {
  return e instanceof EntryNotFoundError || e instanceof LocalEntryNotFoundError;
}

function weightNames(variant: string | undefined, useSafetensors: boolean | undefined): string[] {
  const stem = variant ? `diffusion_pytorch_model.${variant}` : 'diffusion_pytorch_model';
  if (useSafetensors === true) return [`${stem}.safetensors`];
  if (useSafetensors === false) return [`${stem}.bin`];
  return [`${stem}.safetensors`, `${stem}.bin`];
}

/**
 * Downloads (or finds in the cache) the UNet config and weights and the scheduler config of a
 * diffusers model repo; returns `<cache>/models--org--name/snapshots/<commit>`. It tries
 * diffusers' layouts in order (unet/ or the root, safetensors or .bin, the variant), all at one pinned commit:
 * one sequence of fallbacks, hence its length.
 */
export async function downloadDiffusersModel(
  repoId: string,
  options: DownloadDiffusersModelOptions = {},
): Promise<string> {
  const { variant, useSafetensors, ...fileOptions } = options;
  if (variant !== undefined && (typeof variant !== 'string' || !/^[\w-]+$/.test(variant))) {
    throw new TypeError(`variant must be a name like "fp16", got ${JSON.stringify(variant)}`);
  }
  if (useSafetensors !== undefined && typeof useSafetensors !== 'boolean') {
    throw new TypeError(`useSafetensors must be a boolean, got ${JSON.stringify(useSafetensors)}`);
  }
  let revision = options.revision ?? 'main';
  const get = (file: string): Promise<HubFileLocation> =>
    hubDownloadFile(repoId, file, { ...fileOptions, revision });
  // After the first answer every file is taken from that same commit, even if the branch moves on.
  const pin = (commit: string | undefined): void => {
    if (commit) revision = commit;
  };

  let unetDir = '';
  try {
    const index = await get('model_index.json');
    pin(index.commitHash);
    try {
      JSON.parse(await readFile(index.path, 'utf8'));
    } catch (e) {
      throw new FileFormatError(index.path, `model_index.json is not valid JSON (${(e as Error).message})`);
    }
    try {
      pin((await get('unet/config.json')).commitHash);
      unetDir = 'unet/';
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  } catch (e) {
    if (!isMissing(e)) throw e;
    if (e instanceof EntryNotFoundError) pin(e.commitHash);
  }
  const config = unetDir ? undefined : await get('config.json');
  pin(config?.commitHash);

  const candidates = weightNames(variant, useSafetensors);
  let weightsFound = false;
  let lastMissing: unknown;
  for (const name of candidates) {
    try {
      await get(`${unetDir}${name}`);
      weightsFound = true;
      break;
    } catch (e) {
      if (!isMissing(e)) throw e;
      lastMissing = e;
    }
  }
  if (!weightsFound) {
    const tried = candidates.map((n) => `"${unetDir}${n}"`).join(' or ');
    const why = (lastMissing as Error).message;
    if (lastMissing instanceof EntryNotFoundError) {
      throw new EntryNotFoundError(
        `Hub repository "${repoId}" has no UNet weights ${tried}. ${why}`,
        404,
        '',
      );
    }
    throw new LocalEntryNotFoundError(`No UNet weights ${tried} of "${repoId}" are available. ${why}`);
  }

  if (unetDir) {
    await get('scheduler/scheduler_config.json');
  } else {
    // Root-level repos keep it at the root or, when they also carry a pipeline index, in scheduler/.
    for (const name of ['scheduler_config.json', 'scheduler/scheduler_config.json']) {
      try {
        await get(name);
        break;
      } catch (e) {
        // A bare UNet repo has no scheduler config: the pipeline then uses the scheduler defaults.
        if (!(e instanceof EntryNotFoundError)) throw e;
      }
    }
  }
  return new RepoCache(resolveHubCacheDir(options.cacheDir), repoId).snapshotDir(revision);
}
