/** `scoresde train` refuses bad input with one clear line before any training starts. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseTrainArgs } from '../../src/cli/train.js';
import { PRESET_NAMES } from '../../src/training/presets.js';
import { runInProcess } from '../cli/helpers.js';
import { flagArgs, MICRO_CONFIG, writeStripeImages } from './helpers.js';

const cli = (args: string[]) => runInProcess(['train', ...args]);
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-train-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('scoresde train: checks before training', () => {
  it('prints help listing every preset', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: scoresde train --config/);
    for (const name of PRESET_NAMES) assert.ok(r.stdout.includes(name), name);
  });

  it('requires --out and --steps', async () => {
    assert.match((await cli(['--config', 've-gray-16-tiny', '--steps', '3'])).stderr, /--out is required/);
    assert.match((await cli(['--out', join(tmp, 'x')])).stderr, /--steps is required/);
  });

  it('names the problem: unknown preset, Skip blocks with one channel, σ range, output folder, resume', async () => {
    const out = join(tmp, 'run');
    const base = ['--out', out, '--steps', '2', '--data', join(tmp, 'nowhere')];
    let r = await cli([...base, '--config', 'no-such-preset']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /"no-such-preset" is neither a preset .* nor an existing config\.json/);

    const skip1 = join(tmp, 'skip1.json');
    writeFileSync(
      skip1,
      JSON.stringify({
        ...MICRO_CONFIG,
        down_block_types: ['SkipDownBlock2D', 'SkipDownBlock2D'],
        up_block_types: ['SkipUpBlock2D', 'SkipUpBlock2D'],
      }),
    );
    r = await cli([...base, '--config', skip1]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SkipDownBlock2D hard-codes 3 image channels .* in_channels is 1/);

    const odd = join(tmp, 'odd.json');
    writeFileSync(
      odd,
      JSON.stringify({
        sample_size: 10,
        block_out_channels: [32, 32, 32],
        down_block_types: ['DownBlock2D', 'DownBlock2D', 'DownBlock2D'],
        up_block_types: ['UpBlock2D', 'UpBlock2D', 'UpBlock2D'],
      }),
    );
    r = await cli([...base, '--config', odd]);
    assert.match(r.stderr, /sample_size = 10 must be a multiple of 4/);

    r = await cli([...base, '--config', 've-gray-16-tiny', '--sigma-min', '5', '--sigma-max', '1']);
    assert.match(r.stderr, /--sigma-min \(5\) must be below --sigma-max \(1\)/);

    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    r = await cli(['--out', file, '--steps', '2', '--config', 've-gray-16-tiny', '--data', file]);
    assert.match(r.stderr, /a-file: is a file; --out must be a folder/);

    r = await cli(['--out', join(tmp, 'empty'), '--steps', '2', '--resume']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds no training checkpoint to resume/);

    r = await cli([...base, '--config', 've-gray-16-tiny', '--init-from', tmp]);
    assert.match(r.stderr, /give --config .* or --init-from .*, not both/);
  });

  it('a run that fails its checks removes the --out folders it created, and only those', async () => {
    const out = join(tmp, 'new-parent', 'new-out');
    const r = await cli(['--out', out, '--steps', '2', '--config', 'no-such-preset', '--data', tmp]);
    assert.equal(r.code, 1);
    assert.ok(!existsSync(join(tmp, 'new-parent')), 'both created folders are gone');
    const kept = join(tmp, 'existing-out');
    mkdirSync(kept);
    await cli(['--out', kept, '--steps', '2', '--config', 'no-such-preset', '--data', tmp]);
    assert.ok(existsSync(kept), 'a folder that existed before stays');
  });

  it('an unreadable image in --data names the file and --skip-unreadable', async () => {
    const data = writeStripeImages(join(tmp, 'bad-images'), 2);
    writeFileSync(join(data, 'broken.png'), 'not a png');
    const config = join(tmp, 'micro.json');
    writeFileSync(config, JSON.stringify(MICRO_CONFIG));
    const r = await cli(['--out', join(tmp, 'bad-run'), '--steps', '1', '--config', config, '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^scoresde: .*broken\.png: .*\(--skip-unreadable skips such files\)\n$/);
  });
});

describe('scoresde train: what a run says', () => {
  it('warns about a long warmup, says where a resumed run starts, and ends with a summary', async () => {
    const data = writeStripeImages(join(tmp, 'say-images'), 4);
    const config = join(tmp, 'micro-say.json');
    writeFileSync(config, JSON.stringify(MICRO_CONFIG));
    const out = join(tmp, 'say-run');
    const args = flagArgs({ out, config, data, 'batch-size': 2, 'sample-every': 2 });
    let r = await cli([...args, '--steps', '2', '--sample-count', '1', '--sample-steps', '1']);
    assert.equal(r.code, 0, r.stderr);
    // The default warmup (5000) is far longer than 2 steps.
    assert.match(r.stderr, /scoresde: warning: warmup 5000 is longer than the run \(2 steps\)/);
    assert.match(r.stderr, /lr=0\.0e\+0/, 'the bar shows the learning rate');
    assert.match(
      r.stderr,
      /trained steps 0 → 2 in 00:\d\d, [\d.]+ s\/step; smoothed loss [\d.]+ \([\d.e-]+ per value\)/,
    );
    assert.match(r.stderr, /sample grids: 1 in .*say-run\/samples \(last: .*step-2\.png\)/);
    assert.equal(r.stdout, `${join(out, 'samples/step-2.png')}\n${out}\n`);
    r = await cli(['--out', out, '--resume', '--steps', '4', '--warmup', '5000']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /scoresde: resumed from step 2 of 4 \(checkpoint every 1000, a sample grid every 2\)/,
    );
    assert.match(r.stderr, /trained steps 2 → 4 /);
    assert.equal(r.stdout, `${join(out, 'samples/step-4.png')}\n${out}\n`);
  });

  it('maps flags to train() options, leaving unset ones out (a resumed run keeps its own)', () => {
    assert.deepEqual(parseTrainArgs({ out: 'o', resume: true }), { out: 'o', resume: true });
    assert.deepEqual(parseTrainArgs({ out: 'o', steps: '10', resume: true }), {
      out: 'o',
      steps: 10,
      resume: true,
    });
    const o = parseTrainArgs({
      out: 'o',
      steps: '10',
      config: 've-gray-32',
      'batch-size': '4',
      lr: '1e-3',
      warmup: '0',
      ema: '0.99',
      'grad-clip': 'none',
      'sigma-min': '0.02',
      'sigma-max': '80',
      seed: '7',
      flip: true,
    });
    assert.deepEqual(o, {
      out: 'o',
      steps: 10,
      config: 've-gray-32',
      batchSize: 4,
      lr: 1e-3,
      warmup: 0,
      emaDecay: 0.99,
      gradClip: null,
      sigmaMin: 0.02,
      sigmaMax: 80,
      seed: 7,
      flip: true,
      resume: false,
    });
    assert.throws(() => parseTrainArgs({ out: 'o', steps: '0' }), /--steps must be an integer ≥ 1/);
    assert.throws(
      () => parseTrainArgs({ out: 'o', steps: '1', ema: '1.5' }),
      /--ema must be a number in \[0, 1\)/,
    );
    assert.throws(
      () => parseTrainArgs({ out: 'o', steps: '1', 'grad-clip': '-1' }),
      /--grad-clip must be a number > 0/,
    );
  });
});
