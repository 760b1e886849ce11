/** train_log.jsonl: appended per step; on resume, records after the checkpoint's step are dropped. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LOG_FILE, TrainLog } from '../../src/training/train-log.js';

const tmp = mkdtempSync(join(tmpdir(), 'scoresde-log-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const rec = (step: number) => ({ step, loss: step / 2, lr: 1e-4, grad_norm: 3, seconds: 0.5 });
const steps = () =>
  readFileSync(join(tmp, LOG_FILE), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).step);

test('a fresh log starts empty; a resumed one keeps steps up to the checkpoint and drops cut lines', async () => {
  writeFileSync(join(tmp, LOG_FILE), 'old\n');
  let log = await TrainLog.open(tmp, 0);
  for (let s = 1; s <= 5; s++) await log.write(rec(s));
  await log.close();
  assert.deepEqual(steps(), [1, 2, 3, 4, 5]);
  writeFileSync(join(tmp, LOG_FILE), `${readFileSync(join(tmp, LOG_FILE), 'utf8')}{"step":6,"lo`);
  log = await TrainLog.open(tmp, 3);
  await log.write(rec(4));
  await log.close();
  assert.deepEqual(steps(), [1, 2, 3, 4]);
  assert.deepEqual(JSON.parse(readFileSync(join(tmp, LOG_FILE), 'utf8').split('\n')[3]), rec(4));
});
