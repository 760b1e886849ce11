/** Loads the pipeline a command names, turning loading failures into one clear line. */
import { DEFAULT_MODEL } from '../pipelines/default-model.js';
import { ScoreSdeVePipeline } from '../pipelines/index.js';
import { ProgressBar } from '../progress.js';
import { CliError, type CliIO, executionProvidersFor, requireString } from './args.js';
import { renderLoadFailure, renderWarning } from './messages.js';

/** --model, or the bundled default model when it is not given. */
export function modelArg(values: Record<string, unknown>, command: string): string {
  return values.model === undefined ? DEFAULT_MODEL.dir : requireString(values, 'model', command);
}

export async function loadPipelineFromArgs(
  command: string,
  values: Record<string, unknown>,
  io: CliIO,
): Promise<{ pipe: ScoreSdeVePipeline; model: string }> {
  const model = modelArg(values, command);
  const executionProviders = executionProvidersFor(values.device);
  try {
    const pipe = await ScoreSdeVePipeline.fromPretrained(model, {
      cacheDir: values['cache-dir'] as string | undefined,
      revision: values.revision as string | undefined,
      variant: values.variant as string | undefined,
      localFilesOnly: values['local-files-only'] === true ? true : undefined,
      executionProviders,
      progressStream: io.stderr,
      signal: io.signal,
      // On this command's stderr (above a live bar), worded for its flags.
      onWarning: (message, code) =>
        ProgressBar.write(
          `scoresde: warning: ${renderWarning(Object.assign(new Error(message), { code }))}`,
          io.stderr,
        ),
    });
    return { pipe, model };
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new CliError(`cannot load model "${model}": ${renderLoadFailure(e) ?? (e as Error).message}`);
  }
}
