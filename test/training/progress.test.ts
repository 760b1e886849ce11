/** The progress bar's tqdm `initial` (a resumed run) and `postfix` (the smoothed loss). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProgress, ProgressBar } from '../../src/progress.js';

test('initial counts in n but not in the rate; postfix follows the rate as tqdm prints it', () => {
  // tqdm(total=100, initial=40, desc='train', unit='step') after 20 more steps in 10 s, postfix_str 'loss=1.5'
  assert.equal(
    formatProgress({
      n: 60,
      total: 100,
      initial: 40,
      elapsedS: 10,
      desc: 'train',
      unit: 'step',
      postfix: 'loss=1.5',
    }),
    'train:  60%|██████    | 60/100 [00:10<00:20,  2.00step/s, loss=1.5]',
  );
  assert.equal(formatProgress({ n: 5, elapsedS: 2, postfix: 'a=1' }), '5it [00:02,  2.50it/s, a=1]');
});

test('ProgressBar starts at initial and shows its postfix', () => {
  const lines: string[] = [];
  let now = 0;
  const bar = new ProgressBar({
    total: 10,
    initial: 4,
    stream: { write: (s: string) => lines.push(s) },
    minIntervalMs: 0,
    now: () => now,
  });
  now = 1000;
  bar.postfix = 'loss=2';
  bar.update();
  bar.close();
  assert.equal(lines.at(-1), ' 50%|█████     | 5/10 [00:01<00:05,  1.00it/s, loss=2]\n');
});
