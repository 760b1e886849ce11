/**
 * The resume journal of `scoresde likelihood --out F`: F.partial.json holds the run's settings and every
 * finished batch, rewritten atomically after each one. The same command finds it and solves only the batches
 * it lacks; each batch draws its noise from its own seed, so the numbers are those of an uninterrupted run.
 * A journal from other settings (or other weights) is refused rather than mixed in.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import type { LikelihoodBatch } from '../likelihood/index.js';
import type { Tensor } from '../tensor.js';
import { CliError } from './args.js';

const FORMAT = 'scoresde-likelihood-journal';
const VERSION = 1;

/** What must be equal for two runs' batches to be interchangeable. */
export type JournalSettings = Record<string, string | number | boolean>;

interface JournalFile {
  format: typeof FORMAT;
  version: number;
  settings: JournalSettings;
  batches: {
    pass: number;
    batch: number;
    start: number;
    bitsPerDim: number[];
    nfe: number;
    networkCalls: number;
  }[];
}

export const journalPath = (out: string) => `${out}.partial.json`;

/** sha256 over the parameters (names and float32 bytes, in name order): the weights a journal was made with. */
export function weightsDigest(stateDict: Map<string, Tensor>): string {
  const hash = createHash('sha256');
  for (const name of [...stateDict.keys()].sort()) {
    const t = stateDict.get(name)!;
    hash.update(`${name}\0${t.dims.join(',')}\0`);
    const data = t.data as ArrayBufferView;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

export class LikelihoodJournal {
  private constructor(
    readonly path: string,
    private readonly settings: JournalSettings,
    private readonly batches: Map<string, LikelihoodBatch>,
  ) {}

  /**
   * The journal at `path` for `settings`: the batches it holds, or none when there is no file (or `fresh`).
   * A file that is not a journal, or holds other settings, is an error naming the file and the difference.
   */
  static async open(path: string, settings: JournalSettings, fresh: boolean): Promise<LikelihoodJournal> {
    const batches = new Map<string, LikelihoodBatch>();
    const text = fresh ? undefined : await readFile(path, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      let file: JournalFile;
      try {
        file = JSON.parse(text);
      } catch {
        throw new CliError(`${path}: not a likelihood journal (unreadable JSON); delete it or pass --force`);
      }
      if (file?.format !== FORMAT || file.version !== VERSION || !Array.isArray(file.batches))
        throw new CliError(`${path}: not a scoresde likelihood journal; delete it or pass --force`);
      for (const key of new Set([...Object.keys(settings), ...Object.keys(file.settings ?? {})])) {
        if (file.settings?.[key] !== settings[key])
          throw new CliError(
            `${path}: an interrupted run with other settings (${key} ${JSON.stringify(file.settings?.[key])}, ` +
              `now ${JSON.stringify(settings[key])}); rerun it as it was, or pass --force to start over`,
          );
      }
      for (const b of file.batches) {
        if (!Array.isArray(b.bitsPerDim) || !b.bitsPerDim.every(Number.isFinite))
          throw new CliError(
            `${path}: batch ${b.batch} of pass ${b.pass} is damaged; delete it or pass --force`,
          );
        batches.set(`${b.pass}/${b.batch}`, { ...b, bitsPerDim: Float64Array.from(b.bitsPerDim) });
      }
    }
    return new LikelihoodJournal(path, settings, batches);
  }

  /** Batches already solved. */
  get size(): number {
    return this.batches.size;
  }

  get(pass: number, batch: number): LikelihoodBatch | undefined {
    return this.batches.get(`${pass}/${batch}`);
  }

  /** Records a finished batch and rewrites the file (atomically) when it is new. */
  async add(b: LikelihoodBatch): Promise<void> {
    const key = `${b.pass}/${b.batch}`;
    if (this.batches.has(key)) return;
    this.batches.set(key, b);
    const file: JournalFile = {
      format: FORMAT,
      version: VERSION,
      settings: this.settings,
      batches: [...this.batches.values()].map((x) => ({ ...x, bitsPerDim: Array.from(x.bitsPerDim) })),
    };
    await writeFileAtomic(this.path, `${JSON.stringify(file)}\n`);
  }

  /** The run finished and its results are written: the journal goes. */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
