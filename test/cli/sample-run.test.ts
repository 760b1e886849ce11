/**
 * `scoresde sample` as a run of many images, in process (runCli) on the tiny fixture model with few steps:
 * per-image seeds, shards, resume, writing as batches end, Ctrl-C while writing, bounds and stale temp files.
 */
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseCommandArgs } from '../../src/cli/args.js';
import { checkBatchFits } from '../../src/cli/generate-common.js';
import { shardBatches } from '../../src/cli/image-run.js';
import { decodePNG } from '../../src/io/index.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { numpyToPil, ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { runInProcess as cli } from './helpers.js';

const model = fileURLToPath(new URL('../fixtures/models/tiny-ncsnpp', import.meta.url));
const fixture = (rel: string) => fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-run-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
process.env.HF_HUB_OFFLINE = '1';

const pngs = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort();

describe('sample --count / --shard (per-image seeds)', () => {
  // diffusers' loop (pc), 1 step, batches of 4: the batch rows interact, so this also checks that shards
  // keep whole batches.
  const common = ['sample', '--model', model, '--steps', '1', '--batch-size', '4', '-q'];

  it('2 shards of 8 images are the 16 images of one run, byte for byte; a rerun skips them', async () => {
    const one = join(tmp, 'one');
    const shards = join(tmp, 'shards');
    const all = await cli([...common, '--count', '16', '--out', one]);
    assert.equal(all.code, 0, all.stderr);
    const names = Array.from({ length: 16 }, (_, k) => `sample-pc-1-s${k}.png`);
    assert.deepEqual(pngs(one), [...names, 'sample-pc-1-s0-s15-grid.png'].sort());

    for (const i of [0, 1]) {
      const r = await cli([...common, '--count', '16', '--shard', `${i}/2`, '--out', shards]);
      assert.equal(r.code, 0, r.stderr);
      // Shard i writes images 8i … 8i + 7, each path printed as it is written; no grid for a shard.
      assert.deepEqual(
        r.stdout.trim().split('\n'),
        names.slice(8 * i, 8 * i + 8).map((f) => join(shards, f)),
      );
    }
    assert.deepEqual(pngs(shards), [...names].sort());
    for (const f of names) assert.deepEqual(readFileSync(join(shards, f)), readFileSync(join(one, f)), f);

    // A rerun finds every image of its shard and samples nothing.
    const before = statSync(join(shards, names[3])).mtimeMs;
    const again = await cli([...common, '--count', '16', '--shard', '0/2', '--out', shards]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /8 image\(s\) already in .* are kept \(--force makes them again\)/);
    assert.equal(statSync(join(shards, names[3])).mtimeMs, before);

    // An interrupted run resumes: the missing image is made again, the same bytes, and only it is written.
    rmSync(join(shards, names[13]));
    const resumed = await cli([...common, '--count', '16', '--shard', '1/2', '--out', shards]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(resumed.stdout, `${join(shards, names[13])}\n`);
    assert.deepEqual(readFileSync(join(shards, names[13])), readFileSync(join(one, names[13])));
  });

  it('image k of a shard is what diffusers makes with torch.Generator().manual_seed(seed + k)', async () => {
    // diffusers: pipe(num_inference_steps=10, generator=torch.Generator().manual_seed(0)) = image 0 of --seed 0,
    // made by shard 0 of 2 (the library's list of generators is compared with the CLI in cli.test.ts).
    const out = join(tmp, 'parity');
    const r = await cli([
      'sample',
      '--model',
      model,
      '--steps',
      '10',
      '--count',
      '2',
      '--shard',
      '0/2',
      '-q',
      '-o',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(pngs(out), ['sample-pc-10-s0.png']);
    const ref = (await loadSafetensors(fixture('pipeline/tiny-ncsnpp_N10_b1_generator0.safetensors')))
      .tensors;
    const refFloat = ref.get('images')!.data as Float32Array;
    const expected = numpyToPil(ref.get('images')! as never)[0];
    const png = decodePNG(readFileSync(join(out, 'sample-pc-10-s0.png')));
    // Exact where diffusers' image is 0 or 1 (README tolerance: ≤ 1 level in 8 bits elsewhere).
    for (let i = 0; i < png.data.length; i++) {
      const tol = refFloat[i] === 0 || refFloat[i] === 1 ? 0 : 1;
      assert.ok(Math.abs(png.data[i] - expected.data[i]) <= tol, `byte ${i}`);
    }
  });

  it('shards split whole batches into contiguous blocks', () => {
    assert.deepEqual(shardBatches(10, 4), [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    assert.deepEqual(shardBatches(10, 4, { index: 0, of: 2 }), [[0, 1, 2, 3]]);
    assert.deepEqual(shardBatches(10, 4, { index: 1, of: 2 }), [
      [4, 5, 6, 7],
      [8, 9],
    ]);
    // More shards than batches: some shards have nothing to do.
    assert.deepEqual(shardBatches(2, 1, { index: 0, of: 3 }), []);
    assert.deepEqual(shardBatches(2, 1, { index: 1, of: 3 }), [[0]]);
    assert.deepEqual(shardBatches(2, 1, { index: 2, of: 3 }), [[1]]);
    for (const of of [1, 2, 3, 7]) {
      const parts = Array.from({ length: of }, (_, index) => shardBatches(23, 3, { index, of }));
      assert.deepEqual(parts.flat(), shardBatches(23, 3), `${of} shards`);
    }
  });

  it('heun and dpmpp-2m give the same image k at any batch size', async () => {
    for (const sampler of ['heun', 'dpmpp-2m']) {
      const dirs = [1, 3].map((b) => join(tmp, `${sampler}-b${b}`));
      for (const [i, b] of [1, 3].entries()) {
        const r = await cli([
          'sample',
          '--model',
          model,
          '--sampler',
          sampler,
          '--steps',
          '2',
          '--count',
          '3',
          '--batch-size',
          String(b),
          '-q',
          '-o',
          dirs[i],
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
      for (const f of pngs(dirs[0]))
        assert.deepEqual(readFileSync(join(dirs[1], f)), readFileSync(join(dirs[0], f)), `${sampler} ${f}`);
    }
  });
});

describe('sample: writing, interrupting, cleaning up', () => {
  it('writes each image as its batch ends; Ctrl-C while writing stops with exit 130', async () => {
    const out = join(tmp, 'sigint');
    const controller = new AbortController();
    // One batch of 4: abort as soon as the first image is written.
    const r = await cli(
      [
        'sample',
        '--model',
        model,
        '--sampler',
        'dpmpp-2m',
        '--steps',
        '1',
        '--count',
        '4',
        '--batch-size',
        '4',
        '-q',
        '-o',
        out,
      ],
      {
        signal: controller.signal,
        onStdout: () => controller.abort(),
      },
    );
    assert.equal(r.code, 130, r.stderr);
    // …and says what is done and how to finish.
    assert.match(
      r.stderr,
      /scoresde: interrupted; 1 image\(s\) written to .*sigint; run the same command again to make the rest \(finished images are kept\)\n$/,
    );
    assert.deepEqual(pngs(out), ['sample-dpmpp-2m-1-s0.png']);
    assert.deepEqual(
      readdirSync(out).filter((f) => f.endsWith('.tmp')),
      [],
    );

    // Batches of 1: an interruption after the first batch keeps it.
    const batches = join(tmp, 'per-batch');
    const c2 = new AbortController();
    const r2 = await cli(
      [
        'sample',
        '--model',
        model,
        '--sampler',
        'dpmpp-2m',
        '--steps',
        '1',
        '--count',
        '3',
        '-q',
        '-o',
        batches,
      ],
      {
        signal: c2.signal,
        onStdout: () => c2.abort(),
      },
    );
    assert.equal(r2.code, 130);
    assert.deepEqual(pngs(batches), ['sample-dpmpp-2m-1-s0.png']);
  });

  it('removes temp files that killed runs left, and no others', async () => {
    const out = join(tmp, 'litter');
    mkdirSync(out, { recursive: true });
    const mine = '.sample-heun-1-s0.png.0123456789ab.tmp'; // this run's target: removed at once
    const oldOther = '.sample-heun-1-s9.png.0123456789ab.tmp'; // our naming, another image, an hour old
    const freshOther = '.sample-heun-1-s8.png.ba9876543210.tmp'; // perhaps another shard writing now: kept
    const foreign = '.notes.txt.0123456789ab.tmp'; // not ours: kept
    for (const f of [mine, oldOther, freshOther, foreign]) writeFileSync(join(out, f), '');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(out, oldOther), hourAgo, hourAgo);
    utimesSync(join(out, foreign), hourAgo, hourAgo);
    const r = await cli(['sample', '--model', model, '--sampler', 'heun', '--steps', '1', '-q', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), [foreign, freshOther, 'sample-heun-1-s0.png'].sort());
  });

  it('takes seeds up to 2^64 − 1 and negative numbers as numbers', async () => {
    const out = join(tmp, 'seeds');
    const r = await cli([
      'sample',
      '--model',
      model,
      '--sampler',
      'heun',
      '--steps',
      '1',
      '--seed',
      '18446744073709551615',
      '-q',
      '-o',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(pngs(out), ['sample-heun-1-s18446744073709551615.png']);
    const past = await cli(['sample', '--model', model, '--seed', '18446744073709551615', '--count', '2']);
    assert.equal(past.code, 1);
    assert.match(past.stderr, /--seed 18446744073709551615 \+ 2 images passes the largest seed, 2\^64 − 1/);
    const negative = await cli(['sample', '--model', model, '--seed', '-1']);
    assert.equal(negative.code, 1);
    assert.equal(
      negative.stderr.split('\n')[0],
      'scoresde: --seed must be an integer from 0 to 2^64 − 1, got -1',
    );
    const count = await cli(['sample', '--model', model, '--count', '-3']);
    assert.equal(
      count.stderr.split('\n')[0],
      'scoresde: --count must be an integer from 1 to 1000000000, got -3',
    );
    // A short flag too; a folder may be called "-2".
    const options = { out: { type: 'string', short: 'o' }, quiet: { type: 'boolean' } } as const;
    assert.deepEqual(
      { ...parseCommandArgs('x', ['-o', '-2', '--quiet'], options).values },
      {
        out: '-2',
        quiet: true,
      },
    );
  });
});

describe('sample: file names carry what makes the images differ', () => {
  it('heun with churn is named apart from deterministic heun, so neither resumes the other', async () => {
    const out = join(tmp, 'churn');
    const base = ['sample', '--model', model, '--sampler', 'heun', '--steps', '2', '-q', '-o', out];
    assert.equal((await cli([...base, '--churn', '5'])).code, 0);
    assert.equal((await cli(base)).code, 0);
    assert.deepEqual(pngs(out), ['sample-heun-2-churn5-s0.png', 'sample-heun-2-s0.png']);
    assert.notDeepEqual(
      readFileSync(join(out, 'sample-heun-2-churn5-s0.png')),
      readFileSync(join(out, 'sample-heun-2-s0.png')),
    );
  });
});

describe('sample: refusals before the model loads', () => {
  // A model that does not exist: any refusal below comes before loading, or it would name the model.
  const missing = ['sample', '--model', join(tmp, 'no-model')];

  it('refuses sizes that cannot run, in one line', async () => {
    for (const [flag, value, message] of [
      ['--steps', '1000000000', /^scoresde: --steps must be an integer from 1 to 100000, got 1000000000\n/],
      ['--steps', '1e12', /^scoresde: --steps must be an integer, got "1e12"\n/],
      [
        '--batch-size',
        '1000000',
        /^scoresde: --batch-size must be an integer from 1 to 65536, got 1000000\n/,
      ],
      ['--count', '0', /^scoresde: --count must be an integer from 1 to 1000000000, got 0\n/],
      ['--shard', '2/2', /^scoresde: --shard must be i\/n with 0 ≤ i < n \(e\.g\. 0\/4\), got "2\/2"\n/],
    ] as const) {
      const r = await cli([...missing, flag, value]);
      assert.equal(r.code, 1, `${flag} ${value}`);
      assert.match(r.stderr, message);
    }
  });

  it('checks the batch against this machine’s memory', async () => {
    // The fixture has no scheduler config: the expected warning goes to a callback, not to the test's output.
    const warned: string[] = [];
    const pipe = await ScoreSdeVePipeline.fromPretrained(model, { onWarning: (m) => warned.push(m) });
    assert.match(warned.join('\n'), /no scheduler_config\.json found/);
    try {
      // tiny-ncsnpp, 32×32, 32 channels at 4 levels, 2 layers per block: about 1.6 MB per image.
      checkBatchFits(pipe, 600, 2 ** 30);
      assert.throws(
        () => checkBatchFits(pipe, 1000, 2 ** 30),
        /^CliError: --batch-size 1000: about 1\.5 GiB for this model, more than this machine's 1\.0 GiB; use a smaller batch$/,
      );
    } finally {
      await pipe.release();
    }
  });

  it('suggests the nearest flag', async () => {
    const r = await cli(['sample', '--modle', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^scoresde: sample: Unknown option '--modle'; did you mean --model\?\n/);
    const far = await cli(['sample', '--colour', 'x']);
    assert.doesNotMatch(far.stderr, /did you mean/);
  });

  it('refuses bad output folders fast, naming --out', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const [out, message] of [
      ['', /^scoresde: --out is empty; give a folder, e\.g\. --out \.\n/],
      [file, /^scoresde: --out .*a-file: exists and is not a folder\n$/],
      ['/dev/null', /^scoresde: --out \/dev\/null: exists and is not a folder\n$/],
      [join(file, 'x'), /^scoresde: --out .*a-file\/x: .*a-file is not a folder\n$/],
      [
        '/proc/nope',
        /^scoresde: --out \/proc\/nope: cannot create the folder \/proc\/nope \(no such file or folder\)\n$/,
      ],
    ] as const) {
      const t0 = performance.now();
      const r = await cli([...missing, '--out', out]);
      assert.equal(r.code, 1, out);
      assert.match(r.stderr, message);
      assert.ok(performance.now() - t0 < 5000, `${out}: took ${performance.now() - t0} ms`);
    }
    // A new nested folder is created before the model loads (which then fails).
    const nested = join(tmp, 'new', 'deep', 'folder');
    const r = await cli([...missing, '--out', nested]);
    assert.match(r.stderr, /cannot load model/);
    assert.deepEqual(readdirSync(nested), [], 'created, and the probe file removed');
  });

  it('inpaint checks the PNG header before decoding (a small file may declare a huge image)', async () => {
    // A valid PNG signature and IHDR declaring 16384×16384, and nothing else.
    const ihdr = Buffer.alloc(25);
    ihdr.writeUInt32BE(13, 0);
    ihdr.write('IHDR', 4, 'latin1');
    ihdr.writeUInt32BE(16384, 8);
    ihdr.writeUInt32BE(16384, 12);
    ihdr.set([8, 2, 0, 0, 0], 16);
    const bomb = join(tmp, 'bomb.png');
    writeFileSync(bomb, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr]));
    const r = await cli(['inpaint', '--model', join(tmp, 'no-model'), '--image', bomb, '--mask', bomb]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^scoresde: --image .*bomb\.png: the image is 16384×16384; at most 67108864 pixels are accepted\n$/,
    );
    const text = join(tmp, 'not.png');
    writeFileSync(text, 'hello, this is not a PNG at all');
    const notPng = await cli(['colorize', '--model', model, '--image', text]);
    assert.match(notPng.stderr, /^scoresde: --image .*not\.png: not a PNG file\n$/);
  });

  it('inpaint refuses to overwrite without --force', async () => {
    const out = join(tmp, 'no-overwrite');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'colorize-pc-1-s0.png'), 'old');
    const card = join(tmp, 'card.png');
    const { encodePNG } = await import('../../src/io/index.js');
    writeFileSync(
      card,
      encodePNG({ width: 32, height: 32, channels: 3, data: new Uint8Array(3072).fill(90) }),
    );
    const r = await cli(['colorize', '--model', model, '--image', card, '--steps', '1', '-q', '-o', out]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /colorize-pc-1-s0\.png exists; pass --force to overwrite it, or choose another --out or --prefix/,
    );
    assert.equal(readFileSync(join(out, 'colorize-pc-1-s0.png'), 'utf8'), 'old');
    const forced = await cli([
      'colorize',
      '--model',
      model,
      '--image',
      card,
      '--steps',
      '1',
      '-q',
      '-o',
      out,
      '--force',
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(decodePNG(readFileSync(join(out, 'colorize-pc-1-s0.png'))).width, 32);
  });
});
