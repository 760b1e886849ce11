/**
 * Likelihood journals and shard results read back (issue 23): an edited value, a batch that does not fit the
 * run, a journal that is a folder, and a shard with values out of range are refused, naming the file; an
 * untouched file reads back exactly.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { contentDigest } from '../../src/cli/likelihood-integrity.js';
import { LikelihoodJournal } from '../../src/cli/likelihood-journal.js';
import { mergeResults, resultText } from '../../src/cli/likelihood-result.js';
import { type LikelihoodBatch, likelihoodFromBatches } from '../../src/likelihood/index.js';

/** Parsed JSON being edited on purpose. */
// biome-ignore lint/suspicious/noExplicitAny: the fuzz edits arbitrary fields of parsed JSON
type Json = any;

const dir = mkdtempSync(join(tmpdir(), 'scoresde-tamper-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const settings = {
  weights: 'w',
  data: '/d',
  count: 3,
  batchSize: 2,
  repeats: 1,
  seed: '0',
  dequantize: true,
};
const batch = (b: number, values: number[]): LikelihoodBatch => ({
  pass: 0,
  batch: b,
  start: 2 * b,
  bitsPerDim: Float64Array.from(values),
  nfe: 20,
  networkCalls: 20,
});
const BATCHES = [batch(0, [3.25, 3.5]), batch(1, [4])];

async function writeJournal(path: string): Promise<void> {
  const j = await LikelihoodJournal.open(path, settings, true);
  for (const b of BATCHES) await j.add(b);
}

/** Rewrites a JSON file through `edit`; `reseal` recomputes its SHA-256 as a careful forger would. */
function edit(path: string, change: (f: Json) => void, reseal: boolean): void {
  const f = JSON.parse(readFileSync(path, 'utf8'));
  change(f);
  if (reseal) f.sha256 = contentDigest(f.settings, f.batches);
  writeFileSync(path, JSON.stringify(f));
}

const refusal = async (p: Promise<unknown>, path: string, message: RegExp) =>
  assert.rejects(p, (e: Error) => {
    assert.equal(e.message.split('\n').length, 1);
    assert.ok(e.message.includes(path), e.message);
    assert.match(e.message, message);
    return true;
  });

describe('likelihood journal', () => {
  it('reads back its batches exactly', async () => {
    const path = join(dir, 'ok.json.partial.json');
    await writeJournal(path);
    const j = await LikelihoodJournal.open(path, settings, false);
    assert.equal(j.size, 2);
    assert.deepEqual(Array.from(j.get(0, 0)!.bitsPerDim), [3.25, 3.5]);
  });

  it('refuses bits/dim edited to -5, and a reshaped, misplaced or out-of-range batch even when resealed', async () => {
    const cases: [(f: Json) => void, boolean, RegExp][] = [
      [(f) => (f.batches[0].bitsPerDim[0] = -5), false, /damaged or edited \(its SHA-256 does not match/],
      [
        (f) => f.batches[1].bitsPerDim.push(7),
        true,
        /batch 1 of pass 0 is damaged; delete it or pass --force/,
      ],
      [(f) => (f.batches[1].start = 1), true, /batch 1 of pass 0 is not one of this run's/],
      [(f) => (f.batches[1].pass = 1), true, /batch 1 of pass 1 is not one of this run's/],
      [(f) => (f.batches[0].bitsPerDim[1] = 1e300), true, /batch 0 of pass 0 is damaged/],
      [
        (f) => (f.batches[0].bitsPerDim[1] = -5),
        true,
        /batch 0 of pass 0 holds bits\/dim -5, below the -1 that dequantized 8-bit data allow/,
      ],
      [(f) => delete f.sha256, false, /damaged or edited/],
      [(f) => (f.version = 1), false, /a journal of version 1, not 2 \(an older scoresde\)/],
    ];
    for (const [i, [change, reseal, message]] of cases.entries()) {
      const path = join(dir, `edit-${i}.json.partial.json`);
      await writeJournal(path);
      edit(path, change, reseal);
      await refusal(LikelihoodJournal.open(path, settings, false), path, message);
    }
  });

  it('refuses a journal path that is a folder, with or without --force', async () => {
    const path = join(dir, 'folder.json.partial.json');
    mkdirSync(path);
    await refusal(LikelihoodJournal.open(path, settings, false), path, /is a folder, not a file; delete it/);
    await refusal(LikelihoodJournal.open(path, settings, true), path, /is not a regular file .*; remove it/);
  });
});

describe('likelihood --merge of shard results', () => {
  const write = (name: string, batches: LikelihoodBatch[]) => {
    const path = join(dir, name);
    const result = likelihoodFromBatches(batches, 1, batches[0].start, batches[0].bitsPerDim.length);
    writeFileSync(
      path,
      resultText('json', { model: 'm', data: '/d', settings, shard: null, seconds: 1, result }),
    );
    return path;
  };

  it("merges untouched shards into the run's mean", async () => {
    const run = await mergeResults([write('s0.json', [BATCHES[0]]), write('s1.json', [BATCHES[1]])]);
    assert.equal(run.result.mean, (3.25 + 3.5 + 4) / 3);
  });

  it('refuses a shard with values [-5, 1e300], edited or resealed', async () => {
    const s1 = write('t1.json', [BATCHES[1]]);
    for (const reseal of [false, true]) {
      const s0 = write(`t0-${reseal}.json`, [BATCHES[0]]);
      edit(s0, (f) => (f.batches[0].bitsPerDim = [-5, 1e300]), reseal);
      await refusal(
        mergeResults([s0, s1]),
        s0,
        reseal
          ? /batch 0 of pass 0 is damaged/
          : /damaged or edited \(its SHA-256 does not match its content\)/,
      );
    }
  });
});
