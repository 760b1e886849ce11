/**
 * `scoresde likelihood` and `scoresde interpolate` end to end on the tiny fixture UNet (with a scheduler
 * config of σ ∈ [0.01, 50]) and a folder of 4×4 PNGs: outputs, files, agreement with the library, and the
 * checks that run before the model loads.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openImageDataset } from '../../src/data/index.js';
import { fitGaussian, loadGaussian, saveGaussian } from '../../src/diagnostics/index.js';
import { decodePNG, encodePNG } from '../../src/io/png.js';
import { datasetLikelihood, unetScoreVjp } from '../../src/likelihood/index.js';
import { UNet2DModel } from '../../src/models/unet-2d/index.js';
import { Generator } from '../../src/random/index.js';
import { runInProcess as cli } from '../cli/helpers.js';

const fixture = fileURLToPath(new URL('../fixtures/likelihood/tiny-fourier-1x4x4', import.meta.url));
let root: string;
let model: string;
let images: string;

/** The CLI's noise: batch b of pass r (B batches a pass) from its own generator, seeded seed + r·B + b. */
const batchGenerators = (seed: number, batchesPerPass: number) => (pass: number, batch: number) =>
  new Generator().manualSeed(BigInt(seed + pass * batchesPerPass + batch));

before(() => {
  root = mkdtempSync(join(tmpdir(), 'scoresde-likelihood-'));
  model = join(root, 'model');
  images = join(root, 'images');
  mkdirSync(model);
  mkdirSync(images);
  for (const f of ['config.json', 'diffusion_pytorch_model.safetensors'])
    copyFileSync(join(fixture, f), join(model, f));
  writeFileSync(
    join(model, 'scheduler_config.json'),
    JSON.stringify({ _class_name: 'ScoreSdeVeScheduler', sigma_min: 0.01, sigma_max: 50, snr: 0.15 }),
  );
  for (let n = 0; n < 3; n++) {
    const data = Uint8Array.from({ length: 16 }, (_, i) =>
      Math.round(255 * (0.5 + 0.4 * Math.sin(i * 0.7 + n))),
    );
    writeFileSync(join(images, `img${n}.png`), encodePNG({ width: 4, height: 4, channels: 1, data }));
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

const fast = ['--rtol', '1e-3', '--atol', '1e-3'];

/** Three batches of one image, two passes: six solves. */
const oneImageBatches = () => [
  'likelihood',
  '--model',
  model,
  '--data',
  images,
  '--batch-size',
  '1',
  '--repeats',
  '2',
  ...fast,
];

/** The JSON result of one uninterrupted, unsharded run of `oneImageBatches` (made once, shared). */
let wholeRun: Promise<string> | undefined;
function whole(): Promise<string> {
  wholeRun ??= (async () => {
    const out = join(root, 'whole', 'whole.json');
    const r = await cli([...oneImageBatches(), '--out', out, '-q']);
    assert.equal(r.code, 0, r.stderr);
    return out;
  })();
  return wholeRun;
}

describe('likelihood and interpolate help', () => {
  it('is listed in the main help, and every line is ≤ 80 columns', async () => {
    const main = await cli(['--help']);
    assert.match(main.stdout, /^ {2}likelihood /m);
    assert.match(main.stdout, /^ {2}interpolate /m);
    for (const command of ['likelihood', 'interpolate']) {
      const r = await cli([command, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: scoresde ${command} \\[--model`));
      for (const line of [...main.stdout.split('\n'), ...r.stdout.split('\n')])
        assert.ok([...line].length <= 80, `wider than 80 columns: ${line}`);
    }
  });
});

describe('scoresde likelihood', () => {
  it("--gaussian-above: the model's Gaussian above the switch σ, as the library computes it; refused without one", async () => {
    const bare = await cli(['likelihood', '--model', model, '--data', images, '--gaussian-above', '2', '-q']);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /--gaussian-above: the model .* has no gaussian\.safetensors/);
    const withStats = join(root, 'model-gaussian');
    mkdirSync(withStats, { recursive: true });
    for (const f of ['config.json', 'diffusion_pytorch_model.safetensors', 'scheduler_config.json'])
      copyFileSync(join(model, f), join(withStats, f));
    const ds = await openImageDataset(images, { channels: 1, height: 4, width: 4 });
    const g = await fitGaussian((i, out) => ds.read(i, out), 3, 16);
    await saveGaussian(join(withStats, 'gaussian.safetensors'), g);
    const json = join(root, 'out-gaussian', 'bpd.json');
    const args = ['likelihood', '--model', withStats, '--data', images, '--batch-size', '3'];
    const r = await cli([...args, ...fast, '--gaussian-above', '2', '--out', json, '-q']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(out.settings.gaussianAbove, 2);
    const unet = await UNet2DModel.fromPretrained(withStats);
    const fn = await unetScoreVjp(unet, { batchSize: 3 });
    try {
      const common = { sigmaMin: 0.01, sigmaMax: 50, batchSize: 3, rtol: 1e-3, atol: 1e-3 };
      const run = (extra: object) =>
        datasetLikelihood(fn, ds, { ...common, ...extra, generatorFor: batchGenerators(0, 1) });
      const lib = await run({
        gaussianAbove: 2,
        gaussian: await loadGaussian(join(withStats, 'gaussian.safetensors')),
      });
      assert.deepEqual(
        out.bitsPerDim,
        lib.bitsPerDim.map((row) => Array.from(row)),
      );
      // …and it is not the plain likelihood.
      const plain = await run({});
      assert.notDeepEqual(
        out.bitsPerDim,
        plain.bitsPerDim.map((row) => Array.from(row)),
      );
    } finally {
      await fn.release();
      await unet.release();
    }
  });

  it('prints bits/dim per image and pass and mean ± SE, writes JSON and CSV, and matches the library', async () => {
    const json = join(root, 'out', 'bpd.json');
    const args = ['likelihood', '--model', model, '--data', images, '--batch-size', '2', '--repeats', '2'];
    const r = await cli([...args, ...fast, '--seed', '7', '--out', json, '-q']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 7);
    assert.match(
      lines[6],
      /^bits\/dim: \d+\.\d{4} ± \d+\.\d{4} \(mean ± standard error over 3 images, 2 passes each/,
    );
    const out = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(out.bitsPerDim.length, 2);
    // Each pass draws fresh noise: no image gets the same estimate twice. (A seed stride of 2^32 once gave
    // every pass the same noise: torch's generator seeds from the low 32 bits only.)
    for (const [i, v] of out.bitsPerDim[0].entries()) assert.notEqual(v, out.bitsPerDim[1][i], `image ${i}`);
    // The library on the same images with the same seed gives the same numbers.
    const unet = await UNet2DModel.fromPretrained(model);
    const fn = await unetScoreVjp(unet, { batchSize: 2 });
    try {
      const ds = await openImageDataset(images, { channels: 1, height: 4, width: 4 });
      const lib = await datasetLikelihood(fn, ds, {
        sigmaMin: 0.01,
        sigmaMax: 50,
        batchSize: 2,
        repeats: 2,
        rtol: 1e-3,
        atol: 1e-3,
        generatorFor: batchGenerators(7, 2),
      });
      assert.deepEqual(
        out.bitsPerDim,
        lib.bitsPerDim.map((row) => Array.from(row)),
      );
      assert.equal(out.mean, lib.mean);
      assert.equal(out.standardError, lib.standardError);
      assert.equal(lines[0], `0\t0\t${lib.bitsPerDim[0][0].toFixed(4)}`);
    } finally {
      await fn.release();
      await unet.release();
    }
    const csv = join(root, 'bpd.csv');
    const c = await cli([
      ...args,
      ...fast,
      '--seed',
      '7',
      '--count',
      '2',
      '--repeats',
      '1',
      '--out',
      csv,
      '-q',
    ]);
    assert.equal(c.code, 0, c.stderr);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.deepEqual(rows[0], 'index,pass,bits_per_dim');
    assert.equal(rows.length, 3);
  });

  it('resumes an interrupted run from its journal to the same numbers, and refuses a journal of other settings', async () => {
    const args = oneImageBatches();
    const wholeJson = await whole();
    assert.ok(!existsSync(`${wholeJson}.partial.json`), 'the journal goes once the results are written');

    // Interrupted after two of the six batches (one image each): the journal keeps what finished.
    const part = join(root, 'resume', 'part.json');
    const controller = new AbortController();
    let lines = 0;
    const cut = await cli([...args, '--out', part, '-q'], {
      signal: controller.signal,
      onStdout: (s) => {
        lines += s.split('\n').filter(Boolean).length;
        if (lines >= 2) controller.abort();
      },
    });
    assert.equal(cut.code, 130, cut.stderr);
    assert.match(cut.stderr, /interrupted; 2 finished batch\(es\) are in .*part\.json\.partial\.json/);
    assert.ok(!existsSync(part));

    // Other settings: refused, naming the file and the difference; nothing is overwritten.
    const other = await cli([...args, '--seed', '3', '--out', part, '-q']);
    assert.equal(other.code, 1);
    assert.match(
      other.stderr,
      /part\.json\.partial\.json: an interrupted run with other settings \(seed "0", now "3"\)/,
    );

    const resumed = await cli([...args, '--out', part, '-q']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming from .*part\.json\.partial\.json: 2 of 6 batches done/);
    const [a, b] = [wholeJson, part].map((f) => JSON.parse(readFileSync(f, 'utf8')));
    assert.deepEqual(b.bitsPerDim, a.bitsPerDim);
    assert.equal(b.mean, a.mean);
    assert.equal(resumed.stdout.split('\n').filter((l) => /^\d+\t/.test(l)).length, 6);
    assert.ok(!existsSync(`${part}.partial.json`));

    // A damaged journal is an error; --force starts over.
    writeFileSync(`${part}.partial.json`, '{"format": "something else"}');
    const damaged = await cli([...args, '--out', part, '-q']);
    assert.equal(damaged.code, 1);
    assert.match(
      damaged.stderr,
      /part\.json\.partial\.json: not a scoresde likelihood journal; delete it or pass --force/,
    );
    const forced = await cli([...args, '--out', part, '--force', '-q']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(JSON.parse(readFileSync(part, 'utf8')).bitsPerDim, a.bitsPerDim);
  });

  it('refuses bad flags, a missing data path and an unwritable --out before loading the model', async () => {
    const base = ['likelihood', '--model', join(root, 'no-such-model')];
    const cases: [string[], RegExp][] = [
      [['--data', images, '--divergence', 'trace'], /--divergence must be one of/],
      [['--data', images, '--out', join(root, 'x.txt')], /--out must end in .csv or .json/],
      [['--data', join(root, 'missing')], /--data .*missing: no such file or folder/],
      [['--data', images, '--out', join(images, 'img0.png', 'x.csv')], /--out/],
      [['--data', images, '--repeats', '0'], /--repeats must be an integer/],
      [['--data', images, '--threads', '0'], /--threads must be an integer/],
      [['--data', images, '--shard', '0/2'], /--shard needs --out <file>\.json/],
      [
        ['--data', images, '--shard', '0/2', '--out', join(root, 'p.csv')],
        /--shard needs --out <file>\.json/,
      ],
      [['--data', images, '--shard', '2/2', '--out', join(root, 'p.json')], /--shard must be i\/n/],
      [['--data', images, join(root, 'p.json')], /unexpected argument .*p\.json/],
    ];
    for (const [extra, message] of cases) {
      const r = await cli([...base, ...extra]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /cannot load model/);
    }
  });
});

describe('scoresde likelihood --shard and --merge', () => {
  const dir = () => join(root, 'shards');
  const part = (i: number) => join(dir(), `part-${i}.json`);
  const read = (f: string) => JSON.parse(readFileSync(f, 'utf8'));
  /** Shards 0/2 and 1/2 of `oneImageBatches` (run once, shared by the tests). */
  let shardRuns: Promise<Awaited<ReturnType<typeof cli>>[]> | undefined;
  const shards = () =>
    (shardRuns ??= (async () => {
      const runs = [];
      // Shard 1 on one onnxruntime thread (as scripts/likelihood-table.sh runs shards side by side).
      for (const i of [0, 1])
        runs.push(
          await cli([
            ...oneImageBatches(),
            '--shard',
            `${i}/2`,
            '--out',
            part(i),
            '-q',
            ...(i === 1 ? ['--threads', '1'] : []),
          ]),
        );
      return runs;
    })());

  it("solves each shard's batches with the seeds of one run; merged, the shards give that run's result", async () => {
    for (const [i, r] of (await shards()).entries()) {
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      // 3 batches in 2 shards: batch 0, then batches 1–2; each in both passes.
      const range = i === 0 ? 'images 0–0' : 'images 1–2';
      assert.equal(lines.length, (i === 0 ? 2 : 4) + 1);
      assert.match(
        lines.at(-1)!,
        new RegExp(`over ${i === 0 ? 1 : 2} images?, 2 passes each; shard ${i}/2: ${range} of 3;`),
      );
    }
    const a = read(await whole());
    const [p0, p1] = [part(0), part(1)].map(read);
    assert.deepEqual(p0.shard, { index: 0, of: 2 });
    assert.equal(a.shard, null);
    assert.deepEqual(p0.settings, a.settings);
    assert.match(a.settings.weights, /^[0-9a-f]{64}$/);
    // The same solves as the unsharded run, number for number.
    assert.deepEqual(
      [...p0.batches, ...p1.batches].sort((x, y) => x.pass - y.pass || x.batch - y.batch),
      a.batches,
    );
    assert.deepEqual(
      p1.bitsPerDim,
      a.bitsPerDim.map((row: number[]) => row.slice(1)),
    );

    const all = join(dir(), 'all.json');
    const m = await cli(['likelihood', '--merge', part(1), part(0), '--out', all]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(
      m.stdout,
      /^bits\/dim: \d+\.\d{4} ± \d+\.\d{4} \(mean ± standard error over 3 images, 2 passes each; .*merged from 2 files\)\n$/,
    );
    const merged = read(all);
    for (const key of [
      'bitsPerDim',
      'perImage',
      'mean',
      'standardError',
      'settings',
      'batches',
      'shard',
      'start',
      'count',
      'seed',
      'nfePerSolve',
    ])
      assert.deepEqual(merged[key], a[key], key);
    const csv = join(dir(), 'all.csv');
    assert.equal((await cli(['likelihood', '--merge', part(0), '--merge', part(1), '--out', csv])).code, 0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(rows.length, 7);
    assert.equal(rows[6], `2,1,${a.bitsPerDim[1][2]}`);
  });

  it('refuses a shard missing or given twice, files of other settings, and files that are not results', async () => {
    await shards();
    const seed5 = join(dir(), 'seed5.json');
    const s = await cli([...oneImageBatches(), '--seed', '5', '--shard', '0/2', '--out', seed5, '-q']);
    assert.equal(s.code, 0, s.stderr);
    const twin = join(dir(), 'twin.json');
    copyFileSync(part(0), twin);
    const journal = join(dir(), 'part-2.json.partial.json');
    writeFileSync(journal, JSON.stringify({ format: 'scoresde-likelihood-journal', version: 1 }));
    const cases: [string[], RegExp][] = [
      [[part(0), part(1), journal], /part-2\.json\.partial\.json: the journal of an unfinished run; rerun/],
      [[part(0)], /the files lack 4 of 6 batches \(pass 0: 1–2; pass 1: 1–2\); is a shard missing/],
      [[part(0), part(1), part(0)], /part-0\.json: given twice/],
      [
        [part(0), part(1), twin],
        /batch 0 of pass 0 is in both .*part-0\.json and .*twin\.json; give each shard once/,
      ],
      [
        [part(1), seed5],
        /seed5\.json: a run with other settings than .*part-1\.json \(seed "5", there "0"\)/,
      ],
      [[part(0), join(model, 'config.json')], /config\.json: not a JSON result of scoresde likelihood --out/],
      [[part(0), join(dir(), 'nothing.json')], /nothing\.json: no such file/],
      [[], /--merge needs the JSON files/],
      [[part(0), part(1), '--data', images], /--data does not apply to --merge/],
    ];
    for (const [files, message] of cases) {
      const r = await cli(['likelihood', '--merge', ...files, '--out', join(dir(), 'refused.json')]);
      assert.equal(r.code, 1, files.join(' '));
      assert.match(r.stderr.split('\n')[0], message, 'one line naming the problem');
      assert.ok(!existsSync(join(dir(), 'refused.json')));
    }
  });
});

describe('scoresde interpolate', () => {
  it('writes a 1 × K strip at the model size, reports the round-trip error and warns when an end is not its input; refuses to overwrite', async () => {
    const out = join(root, 'strip.png');
    const args = [
      'interpolate',
      '--model',
      model,
      '--a',
      join(images, 'img0.png'),
      '--b',
      join(images, 'img2.png'),
    ];
    const r = await cli([...args, '--frames', '4', '--out', out, ...fast, '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /wrote .*strip\.png \(4 frames, \d+ network calls\); round trip .*a \d\.\d\de[-+]\d+, b /,
    );
    const png = decodePNG(readFileSync(out));
    assert.deepEqual([png.width, png.height], [16, 4]);
    // At rtol = 1e-3 this random-weight model's round trip is ~28 levels off: each end is named with a remedy.
    const levels = (path: string) =>
      Number(new RegExp(`warning: .*${path} comes back (\\d+\\.\\d) 8-bit levels off`).exec(r.stderr)?.[1]);
    const [ea, eb] = [...r.stdout.matchAll(/ (\d\.\d\de[-+]\d+)/g)].map((m) => Number(m[1]));
    assert.ok(Math.abs(levels('img0\\.png') - 255 * ea) < 0.2, r.stderr); // both rounded as printed
    assert.ok(Math.abs(levels('img2\\.png') - 255 * eb) < 0.2, r.stderr);
    assert.match(r.stderr, /a tighter --rtol\/--atol \(e\.g\. 1e-5/);
    // At the default 1e-5 both ends come back within a level: no warning.
    const exact = await cli([...args, '--frames', '2', '--out', join(root, 'exact.png'), '-q']);
    assert.equal(exact.code, 0, exact.stderr);
    assert.doesNotMatch(exact.stderr, /warning/);
    const again = await cli([...args, '--out', out]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists; pass --force/);
    const notPng = await cli([
      ...args,
      '--a',
      join(root, 'model', 'config.json'),
      '--out',
      join(root, 's2.png'),
    ]);
    assert.equal(notPng.code, 1);
    assert.match(notPng.stderr, /--a .*config\.json: not a PNG file/);
  });
});
