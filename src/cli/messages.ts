/**
 * How the command line words what the library reports for programs: warnings by their code, and Hub
 * failures by their class, short and naming the flags a CLI user has. `SCORESDE_DEBUG=1` shows the
 * library's full text instead.
 */
import { HubConnectionError, LocalEntryNotFoundError, resolveHubEndpoint } from '../io/hub.js';
import { DEFAULT_SCHEDULER_WARNING } from '../pipelines/score-sde-ve.js';

export const debugMode = (): boolean => process.env.SCORESDE_DEBUG === '1';

/** One warning line for the terminal (without the `scoresde: warning: ` prefix). */
export function renderWarning(w: Error & { code?: string }): string {
  if (w.code === DEFAULT_SCHEDULER_WARNING && !debugMode()) {
    // The library's text ends "…; using ScoreSdeVeScheduler's defaults …", prefixed with the model.
    const model = /^(.*): no scheduler_config\.json/s.exec(w.message)?.[1] ?? 'the model';
    return `${model} has no scheduler_config.json: using the default σ range (sigma_max 1348, snr 0.15); if it was trained with another, pass --sigma-max`;
  }
  return w.message;
}

/** Why a model could not be loaded, in one short line; undefined when the library's message is the one. */
export function renderLoadFailure(e: unknown): string | undefined {
  if (debugMode()) return undefined;
  if (e instanceof HubConnectionError) {
    let host: string;
    try {
      host = new URL(resolveHubEndpoint()).host;
    } catch {
      host = 'the Hub';
    }
    return `cannot reach the Hub (${host}) and it is not cached; check the network or HF_ENDPOINT (details: SCORESDE_DEBUG=1)`;
  }
  if (e instanceof LocalEntryNotFoundError) {
    return 'not in the cache, and downloads are off (--local-files-only or HF_HUB_OFFLINE=1); run once online';
  }
  return undefined;
}
