/**
 * The result files of `scoresde likelihood --out`, and `--merge`, which joins the JSON results of
 * `--shard i/n` runs into the result one unsharded run writes. A JSON result carries the run's settings (the
 * journal's, with the weights digest), its shard and every solved batch, so a merge needs nothing else.
 */
import { resolve } from 'node:path';
import { FileFormatError } from '../errors.js';
import { readInputText } from '../io/read-file.js';
import { type DatasetLikelihood, type LikelihoodBatch, likelihoodFromBatches } from '../likelihood/index.js';
import { CliError } from './args.js';
import type { Shard } from './image-run.js';
import { batchProblem, contentDigest } from './likelihood-integrity.js';
import {
  type BatchJson,
  batchFromJson,
  batchToJson,
  JOURNAL_FORMAT,
  type JournalSettings,
  settingsDifference,
} from './likelihood-journal.js';

const FORMAT = 'scoresde-likelihood';
/** 2: with the SHA-256 of settings and batches. */
const VERSION = 2;

/** One run (or a merge of shards) as written to --out. */
export interface LikelihoodRun {
  /** --model and --data as given. */
  model: string;
  data: string;
  settings: JournalSettings;
  shard: Shard | null;
  /** Compute time (summed over shards for a merge). */
  seconds: number;
  result: DatasetLikelihood;
}

const fmt = (v: number) => v.toFixed(4);

/** The --out file: CSV (index, pass, bits/dim) or JSON (everything, including the batches). */
export function resultText(format: 'csv' | 'json', run: LikelihoodRun): string {
  const { result } = run;
  if (format === 'csv') {
    const lines = ['index,pass,bits_per_dim'];
    for (const [pass, row] of result.bitsPerDim.entries())
      for (const [i, v] of row.entries()) lines.push(`${result.start + i},${pass},${v}`);
    return `${lines.join('\n')}\n`;
  }
  const { weights: _, data: __, ...settings } = run.settings;
  const batches = result.batches.map(batchToJson);
  const body = {
    format: FORMAT,
    version: VERSION,
    model: run.model,
    data: run.data,
    ...settings,
    shard: run.shard,
    /** perImage[i] and bitsPerDim[r][i] are image start + i (0 unless a shard). */
    start: result.start,
    mean: nullIfNaN(result.mean),
    standardError: nullIfNaN(result.standardError),
    nfePerSolve: nullIfNaN(result.nfe / result.solves),
    seconds: run.seconds,
    perImage: Array.from(result.perImage),
    bitsPerDim: result.bitsPerDim.map((r) => Array.from(r)),
    settings: run.settings,
    batches,
    sha256: contentDigest(run.settings, batches),
  };
  return `${JSON.stringify(body, null, 1)}\n`;
}

const nullIfNaN = (v: number) => (Number.isNaN(v) ? null : v);

/** "bits/dim: m ± se (mean ± standard error over N images, …)": the last line of a run or a merge. */
export function summaryLine(run: LikelihoodRun, extra: string): string {
  const { result, settings } = run;
  const images = result.perImage.length;
  const repeats = Number(settings.repeats);
  const passes = `${repeats} pass${repeats > 1 ? 'es' : ''} each`;
  const shard = run.shard ? `shard ${run.shard.index}/${run.shard.of}: ` : '';
  if (images === 0) return `${shard}no batches to solve (${settings.count} images in all)\n`;
  const covered = run.shard
    ? `; ${shard}images ${result.start}–${result.start + images - 1} of ${settings.count}`
    : '';
  const se = Number.isNaN(result.standardError) ? '' : ` ± ${fmt(result.standardError)}`;
  return (
    `bits/dim: ${fmt(result.mean)}${se} (mean ± standard error over ${images} images, ${passes}${covered}; ` +
    `${settings.divergence}, ${(result.nfe / result.solves).toFixed(0)} ODE evaluations per batch${extra})\n`
  );
}

/** A JSON result as read back for a merge. */
interface ResultFile {
  path: string;
  model: string;
  data: string;
  settings: JournalSettings;
  seconds: number;
  batches: LikelihoodBatch[];
}

async function readResult(path: string): Promise<ResultFile> {
  const text = await readInputText(path, 'likelihood result').catch((e: Error) => {
    throw e instanceof FileFormatError ? new CliError(e.message) : e;
  });
  const notResult = (why: string) =>
    new CliError(`${path}: not a JSON result of scoresde likelihood --out (${why})`);
  let file: {
    format?: unknown;
    version?: unknown;
    model?: unknown;
    data?: unknown;
    settings?: JournalSettings;
    seconds?: unknown;
    batches?: BatchJson[];
    sha256?: unknown;
  };
  try {
    file = JSON.parse(text);
  } catch {
    throw notResult('unreadable JSON');
  }
  if (file?.format === JOURNAL_FORMAT)
    throw new CliError(`${path}: the journal of an unfinished run; rerun its command to finish it`);
  if (file?.format !== FORMAT) throw notResult('no "format": "scoresde-likelihood"');
  if (file.version !== VERSION) throw notResult(`version ${JSON.stringify(file.version)}, not ${VERSION}`);
  const { settings } = file;
  if (
    typeof settings !== 'object' ||
    settings === null ||
    !(['count', 'batchSize', 'repeats'] as const).every((k) => Number.isSafeInteger(settings[k])) ||
    !Array.isArray(file.batches)
  )
    throw notResult('no settings or batches');
  if (file.sha256 !== contentDigest(settings, file.batches))
    throw new CliError(`${path}: damaged or edited (its SHA-256 does not match its content)`);
  const batches = file.batches.map((stored) => {
    const b = batchFromJson(stored);
    if (b === undefined)
      throw new CliError(`${path}: batch ${stored?.batch} of pass ${stored?.pass} is damaged`);
    return b;
  });
  return {
    path,
    model: String(file.model),
    data: String(file.data),
    settings,
    seconds: Number(file.seconds) || 0,
    batches,
  };
}

/** "1, 3–5" from sorted numbers. */
function ranges(values: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    out.push(i === j ? `${values[i]}` : `${values[i]}–${values[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/** The shards' files, each once, all of one run (the same settings). */
async function readShards(paths: string[]): Promise<ResultFile[]> {
  const seen = new Map<string, string>();
  for (const path of paths) {
    const again = seen.get(resolve(path));
    if (again !== undefined) throw new CliError(`${path}: given twice (also as ${again})`);
    seen.set(resolve(path), path);
  }
  const files: ResultFile[] = [];
  for (const path of paths) files.push(await readResult(path));
  const [first] = files;
  for (const f of files.slice(1)) {
    const key = settingsDifference(first.settings, f.settings);
    if (key !== undefined)
      throw new CliError(
        `${f.path}: a run with other settings than ${first.path} (${key} ${JSON.stringify(f.settings[key])}, ` +
          `there ${JSON.stringify(first.settings[key])}); only shards of one run merge`,
      );
  }
  return files;
}

/** Every batch of the files, each checked against the run's settings and found in one file only. */
function collectBatches(files: readonly ResultFile[], settings: ResultFile['settings']) {
  const owner = new Map<string, string>();
  const batches: LikelihoodBatch[] = [];
  for (const f of files) {
    for (const b of f.batches) {
      const key = `${b.pass}/${b.batch}`;
      const problem = batchProblem(b, settings);
      if (problem !== undefined)
        throw new CliError(`${f.path}: batch ${b.batch} of pass ${b.pass} ${problem}`);
      const other = owner.get(key);
      if (other !== undefined)
        throw new CliError(
          `batch ${b.batch} of pass ${b.pass} is in both ${other} and ${f.path}; give each shard once`,
        );
      owner.set(key, f.path);
      batches.push(b);
    }
  }
  return { batches, has: (pass: number, batch: number) => owner.has(`${pass}/${batch}`) };
}

/**
 * The run that `paths` (JSON results of shards of one run) make together. Refused, naming the file: a file
 * given twice, one that is not a result, other settings or weights than the first, a batch in two files, a
 * batch that does not belong to the run, and (naming them) batches that no file holds.
 */
export async function mergeResults(paths: string[]): Promise<LikelihoodRun> {
  const files = await readShards(paths);
  const [first] = files;
  const { settings } = first;
  const count = settings.count as number;
  const repeats = settings.repeats as number;
  const perPass = Math.ceil(count / (settings.batchSize as number));
  const { batches, has } = collectBatches(files, settings);
  const missing: string[] = [];
  for (let pass = 0; pass < repeats; pass++) {
    const lacking = Array.from({ length: perPass }, (_, b) => b).filter((b) => !has(pass, b));
    if (lacking.length > 0) missing.push(`pass ${pass}: ${ranges(lacking)}`);
  }
  if (missing.length > 0)
    throw new CliError(
      `the files lack ${perPass * repeats - batches.length} of ${perPass * repeats} batches ` +
        `(${missing.slice(0, 4).join('; ')}${missing.length > 4 ? '; …' : ''}); is a shard missing or unfinished?`,
    );
  return {
    model: first.model,
    data: first.data,
    settings,
    shard: null,
    seconds: files.reduce((s, f) => s + f.seconds, 0),
    result: likelihoodFromBatches(batches, repeats, 0, count),
  };
}
