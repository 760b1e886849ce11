/** bench/evaluate.ts end to end on the tiny fixture model, fixture data and two cheap rows (it must not rot). */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runEvaluateBench } from '../../bench/evaluate.js';

const fixture = (rel: string) => fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url));
const ENV = {
  SCORESDE_EVAL_MODEL: fixture('models/tiny-ncsnpp'),
  SCORESDE_EVAL_DATA: fixture('fashion-mnist'),
  SCORESDE_EVAL_COUNT: '3',
  SCORESDE_EVAL_BATCH: '2',
  SCORESDE_EVAL_ROWS: 'heun-10,dpmpp-2m-10',
};
const saved = Object.fromEntries(Object.keys(ENV).map((k) => [k, process.env[k]]));
after(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('bench/evaluate.ts', () => {
  it('writes the sampler table: one row per setting with its network calls, FD and floor', async () => {
    Object.assign(process.env, ENV);
    const md = await runEvaluateBench(() => {});
    const rows = md.split('\n').filter((l) => /^\| (heun|dpmpp)-/.test(l) && l.includes('steps'));
    assert.equal(rows.length, 2, md);
    const cells = (l: string) => l.split('|').map((c) => c.trim());
    assert.deepEqual(
      rows.map((l) => cells(l).slice(1, 5)),
      [
        ['heun-10', 'heun, 10 steps', '3', '19'],
        ['dpmpp-2m-10', 'dpmpp-2m, 10 steps', '3', '10'],
      ],
    );
    for (const l of rows) {
      const [fd, floor, excess] = cells(l).slice(5, 8).map(Number);
      assert.ok(Number.isFinite(fd) && floor > 0 && Math.abs(fd - floor - excess) < 0.011, l);
    }
    assert.match(md, /The default row was not run, so no verdict\./);
  });
});
