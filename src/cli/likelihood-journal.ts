/**
 * The resume journal of `scoresde likelihood --out F`: F.partial.json holds the run's settings and every
 * finished batch, rewritten atomically after each one. The same command finds it and solves only the batches
 * it lacks; each batch draws its noise from its own seed, so the numbers are those of an uninterrupted run.
 * A journal from other settings (or other weights) is refused rather than mixed in.
 */
import { createHash } from 'node:crypto';
import { lstat, rm } from 'node:fs/promises';
import { FileFormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readInputText } from '../io/read-file.js';
import type { LikelihoodBatch } from '../likelihood/index.js';
import type { Tensor } from '../tensor.js';
import { CliError } from './args.js';
import { batchProblem, contentDigest, MAX_ABS_BITS_PER_DIM } from './likelihood-integrity.js';

export const JOURNAL_FORMAT = 'scoresde-likelihood-journal';
/** 2: with the SHA-256 of settings and batches. */
const VERSION = 2;

/** What must be equal for two runs' batches to be interchangeable. */
export type JournalSettings = Record<string, string | number | boolean>;

/** A batch as the journal and the result files store it. */
export interface BatchJson {
  pass: number;
  batch: number;
  start: number;
  bitsPerDim: number[];
  nfe: number;
  networkCalls: number;
}

interface JournalFile {
  format: typeof JOURNAL_FORMAT;
  version: number;
  settings: JournalSettings;
  batches: BatchJson[];
  /** contentDigest(settings, batches). */
  sha256: string;
}

export const batchToJson = (b: LikelihoodBatch): BatchJson => ({
  ...b,
  bitsPerDim: Array.from(b.bitsPerDim),
});

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** A stored batch, or undefined when it is damaged (a field missing, not a count, a value not finite or out of range). */
export function batchFromJson(b: BatchJson): LikelihoodBatch | undefined {
  if (!(['pass', 'batch', 'start', 'nfe', 'networkCalls'] as const).every((k) => isCount(b?.[k])))
    return undefined;
  if (
    !Array.isArray(b.bitsPerDim) ||
    !b.bitsPerDim.every((v) => Number.isFinite(v) && Math.abs(v) <= MAX_ABS_BITS_PER_DIM)
  )
    return undefined;
  const { pass, batch, start, nfe, networkCalls } = b;
  return { pass, batch, start, bitsPerDim: Float64Array.from(b.bitsPerDim), nfe, networkCalls };
}

/** The first setting that differs between `a` and `b`, or undefined when they are equal. */
export function settingsDifference(a: JournalSettings, b: JournalSettings): string | undefined {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].find((key) => a[key] !== b[key]);
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

/**
 * The journal's text, or undefined when there is none (or `fresh`). Whatever sits at `path` must be a
 * regular file of at most the journal cap, even with `fresh`: a folder there would fail the first rename.
 */
async function readJournal(path: string, fresh: boolean): Promise<string | undefined> {
  if (fresh) {
    const s = await lstat(path).catch(() => undefined);
    if (s && !s.isFile())
      throw new CliError(`${path}: is not a regular file (a journal goes there); remove it`);
    return undefined;
  }
  const hint = 'delete it or pass --force';
  try {
    return await readInputText(path, 'likelihood journal');
  } catch (e) {
    if (e instanceof FileFormatError && e.message.endsWith(': no such file')) return undefined;
    if (e instanceof FileFormatError) throw new CliError(`${e.message}; ${hint}`);
    throw e;
  }
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
    const text = await readJournal(path, fresh);
    if (text !== undefined) {
      let file: JournalFile;
      try {
        file = JSON.parse(text);
      } catch {
        throw new CliError(`${path}: not a likelihood journal (unreadable JSON); delete it or pass --force`);
      }
      if (file?.format !== JOURNAL_FORMAT || !Array.isArray(file.batches))
        throw new CliError(`${path}: not a scoresde likelihood journal; delete it or pass --force`);
      if (file.version !== VERSION)
        throw new CliError(
          `${path}: a journal of version ${JSON.stringify(file.version)}, not ${VERSION} (an older scoresde); delete it or pass --force`,
        );
      if (file.sha256 !== contentDigest(file.settings, file.batches))
        throw new CliError(
          `${path}: damaged or edited (its SHA-256 does not match its content); delete it or pass --force`,
        );
      const key = settingsDifference(file.settings ?? {}, settings);
      if (key !== undefined)
        throw new CliError(
          `${path}: an interrupted run with other settings (${key} ${JSON.stringify(file.settings?.[key])}, ` +
            `now ${JSON.stringify(settings[key])}); rerun it as it was, or pass --force to start over`,
        );
      for (const stored of file.batches) {
        const b = batchFromJson(stored);
        const problem = b === undefined ? 'is damaged' : batchProblem(b, settings);
        if (b === undefined || problem !== undefined)
          throw new CliError(
            `${path}: batch ${stored?.batch} of pass ${stored?.pass} ${problem}; delete it or pass --force`,
          );
        batches.set(`${b.pass}/${b.batch}`, b);
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
    const batches = [...this.batches.values()].map(batchToJson);
    const file: JournalFile = {
      format: JOURNAL_FORMAT,
      version: VERSION,
      settings: this.settings,
      batches,
      sha256: contentDigest(this.settings, batches),
    };
    await writeFileAtomic(this.path, `${JSON.stringify(file)}\n`);
  }

  /** The run finished and its results are written: the journal goes. */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
