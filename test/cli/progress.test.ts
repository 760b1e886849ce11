import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBar, formatInterval, formatProgress, formatSizeOf, ProgressBar } from '../../src/progress.js';
import { FakeStream } from './helpers.js';

// Expected strings are what tqdm 4.x's format_meter prints for the same numbers.
describe('formatProgress (tqdm format_meter)', () => {
  it('formats intervals as MM:SS and H:MM:SS', () => {
    assert.equal(formatInterval(0), '00:00');
    assert.equal(formatInterval(59.9), '00:59');
    assert.equal(formatInterval(61), '01:01');
    assert.equal(formatInterval(3600 * 5 + 56 * 60 + 7), '5:56:07');
  });

  it('formats sizes with three significant digits', () => {
    assert.equal(formatSizeOf(0), '0.00');
    assert.equal(formatSizeOf(9.994), '9.99');
    assert.equal(formatSizeOf(12.34), '12.3');
    assert.equal(formatSizeOf(999.4), '999');
    assert.equal(formatSizeOf(263_000_000), '263M');
    assert.equal(formatSizeOf(1536, 'B', 1024), '1.50kB');
  });

  it('draws eighth-cell bars', () => {
    assert.equal(formatBar(0, 10), '          ');
    assert.equal(formatBar(0.45, 10), '████▌     ');
    assert.equal(formatBar(1, 10), '██████████');
    assert.equal(formatBar(0.5, 4), '██  ');
  });

  it('lays out a bar with count, elapsed<remaining and it/s', () => {
    // 9 of 20 in 4.5 s: 2 it/s, 11 left → 5.5 s.
    assert.equal(
      formatProgress({ n: 9, total: 20, elapsedS: 4.5 }),
      ' 45%|████▌     | 9/20 [00:04<00:05,  2.00it/s]',
    );
  });

  it('switches to s/it once a step takes longer than a second, with desc and unit', () => {
    const line = formatProgress({ n: 2, total: 2000, elapsedS: 21.4, unit: 'step', desc: 'sampling' });
    assert.equal(line, 'sampling:   0%|          | 2/2000 [00:21<5:56:18, 10.70s/step]');
  });

  it('shows ? before the first unit and scales byte counts', () => {
    assert.equal(formatProgress({ n: 0, total: 5, elapsedS: 0 }), '  0%|          | 0/5 [00:00<?, ?it/s]');
    const bytes = formatProgress({
      n: 1024 * 1024,
      total: 4 * 1024 * 1024,
      elapsedS: 2,
      unit: 'B',
      unitScale: true,
      unitDivisor: 1024,
      desc: 'model.bin',
    });
    assert.equal(bytes, 'model.bin:  25%|██▌       | 1.00M/4.00M [00:02<00:06, 512kB/s]');
  });

  it('shows a count without total', () => {
    assert.equal(formatProgress({ n: 3, elapsedS: 1.5 }), '3it [00:01,  2.00it/s]');
  });

  it('fills the width it is given', () => {
    const line = formatProgress({ n: 1, total: 2, elapsedS: 1, width: 60 });
    assert.equal(line.length, 60);
    assert.equal(line, ` 50%|${'█'.repeat(12)}▌${' '.repeat(12)}| 1/2 [00:01<00:01,  1.00it/s]`);
  });
});

describe('ProgressBar', () => {
  it('redraws in place on a terminal, throttled, and ends the line on close', () => {
    let t = 0;
    const stream = new FakeStream(true);
    const bar = new ProgressBar({ total: 4, stream, now: () => t, minIntervalMs: 100 });
    assert.deepEqual(stream.chunks, ['\r  0%|          | 0/4 [00:00<?, ?it/s]']);
    t = 1000;
    bar.update();
    t = 1050; // within 100 ms: no redraw
    bar.update();
    t = 2000;
    bar.update();
    bar.update();
    bar.close();
    bar.close();
    assert.deepEqual(stream.chunks.slice(1), [
      '\r 25%|██▌       | 1/4 [00:01<00:03,  1.00it/s]',
      // tqdm's smoothed rate (EMA, smoothing 0.3), as tqdm 4.64.1 prints it for these times.
      '\r 75%|███████▌  | 3/4 [00:02<00:00,  1.59it/s]',
      '\r100%|██████████| 4/4 [00:02<00:00,  1.59it/s]',
      '\n',
    ]);
  });

  it('writes whole lines (no carriage returns) when not a terminal', () => {
    let t = 0;
    const stream = new FakeStream(false);
    const bar = new ProgressBar({ total: 2, stream, now: () => t, unit: 'step' });
    t = 500;
    bar.update();
    t = 1000;
    bar.update();
    bar.close();
    assert.deepEqual(stream.chunks, [
      ' 50%|█████     | 1/2 [00:00<00:00,  2.00step/s]\n',
      '100%|██████████| 2/2 [00:01<00:00,  2.00step/s]\n',
    ]);
  });

  it('does not repeat an unchanged last line in logs', () => {
    let t = 0;
    const stream = new FakeStream(false);
    const bar = new ProgressBar({ total: 3, stream, now: () => t });
    t = 1000;
    bar.update(3);
    bar.close();
    assert.deepEqual(stream.chunks, ['100%|██████████| 3/3 [00:01<00:00,  3.00it/s]\n']);
  });

  it("in logs, the final line's rate counts the units since the last line (not just the slow first one)", () => {
    // 34 steps of 0.227 s after a first step of 0.7 s, all within one 10 s log interval: the real rate is 4.4.
    let t = 0;
    const stream = new FakeStream(false);
    const bar = new ProgressBar({ total: 35, stream, now: () => t, unit: 'step' });
    for (let i = 0; i < 35; i++) {
      t += i === 0 ? 700 : 227;
      bar.update();
    }
    bar.close();
    // tqdm's EMA over the two intervals (1 step in 0.7 s, 34 in 7.718 s), smoothing 0.3, bias-corrected:
    // (0.3·34 + 0.21·1) / (0.3·7.718 + 0.21·0.7) = 4.23 step/s (before: 1/0.7 = 1.43).
    assert.deepEqual(stream.chunks, [
      '  3%|▎         | 1/35 [00:00<00:23,  1.43step/s]\n',
      '100%|██████████| 35/35 [00:08<00:00,  4.23step/s]\n',
    ]);
  });

  it('refresh() ticks the elapsed time without advancing, throttled', () => {
    let t = 0;
    const stream = new FakeStream(true);
    const bar = new ProgressBar({ total: 16, stream, now: () => t, minIntervalMs: 100, unit: 'img' });
    t = 50;
    bar.refresh(); // within 100 ms of the first draw
    t = 65_000;
    bar.refresh();
    assert.deepEqual(stream.chunks, [
      '\r  0%|          | 0/16 [00:00<?, ?img/s]',
      '\r  0%|          | 0/16 [01:05<?, ?img/s]',
    ]);
    bar.close();
  });

  it('draws nothing when disabled', () => {
    const stream = new FakeStream(true);
    const bar = new ProgressBar({ total: 2, stream, disable: true });
    bar.update(2);
    bar.close();
    assert.deepEqual(stream.chunks, []);
    assert.equal(bar.n, 2);
  });

  it('smooths the rate as tqdm does, so a slow first step does not inflate the time left', () => {
    // tqdm 4.64.1, total 20, mininterval 0, first step 30 s (a session build), then 1 s per step:
    // for i in range(20): t += 30 if i == 0 else 1; bar.update(); format_meter(**bar.format_dict)
    const tqdm: Record<number, string> = {
      0: '  5%|▌         | 1/20 [00:30<09:30, 30.00s/step]',
      1: ' 10%|█         | 2/20 [00:31<03:52, 12.94s/step]',
      2: ' 15%|█▌        | 3/20 [00:32<02:07,  7.49s/step]',
      5: ' 30%|███       | 6/20 [00:35<00:37,  2.66s/step]',
      10: ' 55%|█████▌    | 11/20 [00:40<00:11,  1.25s/step]',
      19: '100%|██████████| 20/20 [00:49<00:00,  1.01s/step]',
    };
    let t = 0;
    const stream = new FakeStream(false);
    const bar = new ProgressBar({ total: 20, stream, now: () => t, minIntervalMs: 0, unit: 'step' });
    for (let i = 0; i < 20; i++) {
      t += i === 0 ? 30_000 : 1000;
      bar.update();
      if (tqdm[i] !== undefined) assert.equal(bar.line(), tqdm[i], `step ${i + 1}`);
    }
  });

  it('shows an estimated total as ~total and ~time left', () => {
    const line = formatProgress({ n: 30, total: 120, elapsedS: 3, unit: 'call', approximate: true });
    assert.equal(line, ' 25%|██▌       | 30/~120 [00:03<~00:09, 10.00call/s]');
    // An estimate below the count so far never shows more than 100%.
    assert.match(formatProgress({ n: 130, total: 120, elapsedS: 1, approximate: true }), /^100%\|/);
  });

  it('prints messages above a live terminal bar and redraws it (tqdm.write)', () => {
    let t = 0;
    const stream = new FakeStream(true);
    const bar = new ProgressBar({ total: 4, stream, now: () => t, minIntervalMs: 0 });
    t = 1000;
    bar.update();
    stream.chunks.length = 0;
    ProgressBar.write('scoresde: warning: something', stream);
    const drawn = ' 25%|██▌       | 1/4 [00:01<00:03,  1.00it/s]';
    assert.deepEqual(stream.chunks, [
      `\r${' '.repeat(drawn.length)}\r`,
      'scoresde: warning: something\n',
      `\r${drawn}`,
    ]);
    bar.close();
    stream.chunks.length = 0;
    ProgressBar.write('after', stream);
    assert.deepEqual(stream.chunks, ['after\n'], 'a closed bar is not redrawn');
  });
});
