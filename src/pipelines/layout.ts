/**
 * Where a local model folder keeps its UNet and scheduler. Two layouts exist on the Hub:
 *   - a diffusers pipeline folder: model_index.json, unet/{config.json, weights}, scheduler/scheduler_config.json
 *   - a root-level repo (e.g. google/ncsnpp-celebahq-256): config.json, weights and scheduler_config.json at the root
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, FileFormatError } from '../errors.js';

export interface ModelLayout {
  kind: 'pipeline' | 'root';
  /** The folder given. */
  dir: string;
  /** Subfolder of `dir` holding the UNet (undefined: the root). */
  unetSubfolder?: string;
  /** Subfolder of `dir` holding scheduler_config.json (undefined: the root). */
  schedulerSubfolder?: string;
  /** False when no scheduler config exists: the pipeline then uses ScoreSdeVeScheduler's defaults. */
  hasSchedulerConfig: boolean;
}

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** Reads model_index.json and checks that it describes a ScoreSdeVePipeline with diffusers components. */
function checkModelIndex(path: string): void {
  let index: Record<string, unknown>;
  try {
    index = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (${(e as Error).message})`);
  }
  if (index === null || typeof index !== 'object' || Array.isArray(index)) {
    throw new FileFormatError(path, 'expected a JSON object');
  }
  const expected: Record<string, string> = { unet: 'UNet2DModel', scheduler: 'ScoreSdeVeScheduler' };
  for (const [component, className] of Object.entries(expected)) {
    const entry = index[component];
    if (entry === undefined) continue;
    if (!Array.isArray(entry) || entry[1] !== className) {
      throw new ConfigError(
        `${path}: component "${component}" is ${JSON.stringify(entry)}; ScoreSdeVePipeline needs ["diffusers", "${className}"]`,
      );
    }
  }
}

/** Finds the UNet and scheduler inside a local folder; throws naming the folder when neither layout fits. */
export function resolveModelLayout(dir: string): ModelLayout {
  if (!existsSync(dir)) throw new Error(`model folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is a file; expected a model folder`);

  const indexPath = join(dir, 'model_index.json');
  if (isFile(indexPath)) checkModelIndex(indexPath);

  if (isFile(join(dir, 'unet', 'config.json'))) {
    const inSub = isFile(join(dir, 'scheduler', 'scheduler_config.json'));
    const atRoot = !inSub && isFile(join(dir, 'scheduler_config.json'));
    return {
      kind: 'pipeline',
      dir,
      unetSubfolder: 'unet',
      schedulerSubfolder: inSub ? 'scheduler' : undefined,
      hasSchedulerConfig: inSub || atRoot,
    };
  }
  if (isFile(join(dir, 'config.json'))) {
    const atRoot = isFile(join(dir, 'scheduler_config.json'));
    const inSub = !atRoot && isFile(join(dir, 'scheduler', 'scheduler_config.json'));
    return {
      kind: 'root',
      dir,
      schedulerSubfolder: inSub ? 'scheduler' : undefined,
      hasSchedulerConfig: atRoot || inSub,
    };
  }
  throw new FileFormatError(
    dir,
    'not a ScoreSdeVe model folder: expected unet/config.json (a diffusers pipeline folder) or config.json (a root-level UNet repo)',
  );
}
