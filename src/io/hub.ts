/** Hub client: huggingface_hub-compatible downloads into the shared Hugging Face cache. */

export { repoFolderName } from './hub/cache-layout.js';
export {
  DEFAULT_HUB_ENDPOINT,
  isHubOffline,
  resolveHubCacheDir,
  resolveHubEndpoint,
  resolveHubToken,
} from './hub/config.js';
export { type DownloadDiffusersModelOptions, downloadDiffusersModel } from './hub/diffusers.js';
export {
  type HfHubDownloadOptions,
  type HubDownloadProgress,
  type HubFileLocation,
  hfHubDownload,
  hubDownloadFile,
} from './hub/download.js';
export {
  EntryNotFoundError,
  GatedRepoError,
  HubConnectionError,
  HubError,
  HubHttpError,
  LocalEntryNotFoundError,
  RepositoryNotFoundError,
  RevisionNotFoundError,
} from './hub/errors.js';
export { isHubRepoId } from './hub/repo-id.js';
