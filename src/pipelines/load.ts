/**
 * Turns `fromPretrained`'s first argument into a local folder: an existing folder is used as is,
 * anything shaped like a Hub repo id (`owner/name`) is downloaded once into the huggingface_hub cache.
 */
import { existsSync } from 'node:fs';
import { downloadDiffusersModel, type HubDownloadProgress, isHubRepoId } from '../io/index.js';
import type { ExecutionProvider } from '../onnx/index.js';
import { ProgressBar, type ProgressStream } from '../progress.js';
import { type ModelLayout, resolveModelLayout } from './layout.js';

export interface LoadPipelineOptions {
  /** Hub cache folder (diffusers `cache_dir`); default `HF_HUB_CACHE` or `HF_HOME/hub`. */
  cacheDir?: string;
  /** Branch, tag or commit (diffusers `revision`). Default 'main'. */
  revision?: string;
  /** Weights variant such as 'fp16' (diffusers `variant`). */
  variant?: string;
  /** Prefer / require .safetensors weights (diffusers `use_safetensors`). */
  useSafetensors?: boolean;
  /** Never touch the network (diffusers `local_files_only`); `HF_HUB_OFFLINE=1` does the same. */
  localFilesOnly?: boolean;
  /** Hub token (diffusers `token`); default `HF_TOKEN` or the saved login; false sends none. */
  token?: string | false;
  /** Hub URL (huggingface_hub `endpoint`); default `HF_ENDPOINT`, else the public Hub. */
  endpoint?: string;
  /** onnxruntime execution providers for the UNet, e.g. ['cuda']. Default ['cpu']. */
  executionProviders?: readonly ExecutionProvider[];
  /** Show a download progress bar (default true); where it draws. */
  progress?: boolean;
  progressStream?: ProgressStream;
  /** Cancels a download. */
  signal?: AbortSignal;
  /**
   * Receives the load's warnings (unknown config keys; no scheduler config, with the code
   * DEFAULT_SCHEDULER_WARNING) instead of `process.emitWarning`.
   */
  onWarning?: (message: string, code?: string) => void;
}

/** A tqdm-like byte bar per downloaded file, as huggingface_hub shows. */
function downloadProgressHandler(stream: ProgressStream | undefined): {
  onProgress: (p: HubDownloadProgress) => void;
  done: () => void;
} {
  let bar: ProgressBar | undefined;
  let file: string | undefined;
  return {
    onProgress(p) {
      if (bar === undefined || p.file !== file) {
        bar?.close();
        file = p.file;
        bar = new ProgressBar({
          total: p.total,
          desc: p.file,
          unit: 'B',
          unitScale: true,
          unitDivisor: 1024,
          stream,
        });
      }
      // A 0-byte start says nothing new; skip it so logs get one line per file.
      if (p.loaded > bar.n) bar.update(p.loaded - bar.n);
    },
    done() {
      bar?.close();
    },
  };
}

/** The local folder to load (downloaded first for a Hub id) and where its components live. */
export async function resolvePipelineSource(
  idOrDir: string,
  options: LoadPipelineOptions,
): Promise<ModelLayout> {
  if (typeof idOrDir !== 'string' || idOrDir === '') {
    throw new TypeError('fromPretrained: expected a model folder or a Hub repo id (owner/name)');
  }
  if (existsSync(idOrDir)) return resolveModelLayout(idOrDir);
  if (!isHubRepoId(idOrDir)) {
    throw new Error(
      `model not found: "${idOrDir}" is not an existing folder, nor a Hub repo id (owner/name)`,
    );
  }
  const progress = options.progress === false ? undefined : downloadProgressHandler(options.progressStream);
  let dir: string;
  try {
    dir = await downloadDiffusersModel(idOrDir, {
      revision: options.revision,
      cacheDir: options.cacheDir,
      localFilesOnly: options.localFilesOnly,
      token: options.token,
      endpoint: options.endpoint,
      variant: options.variant,
      useSafetensors: options.useSafetensors,
      onProgress: progress?.onProgress,
      signal: options.signal,
    });
  } finally {
    progress?.done();
  }
  return resolveModelLayout(dir);
}
