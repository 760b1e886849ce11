/**
 * A fuzz round over the surfaces of issue 23: `train --data`, `train --config`, `train --resume`,
 * `evaluate --samples` / `--count`, `likelihood` (flags, journals) and `likelihood --merge`. Each case builds
 * its own hostile input from small valid ones (special files, links, bombs, lying headers, edited and
 * resealed checkpoints and journals, random byte flips), runs the CLI once under an address-space cap and a
 * timeout, and classifies the outcome:
 *
 *   refused      exit 1 with one `scoresde:` line naming a file or a flag
 *   accepted     exit 0 (for a case that allows it: a skipped special file must come with a warning)
 *   silent       exit 0 where the input must be refused or warned about (tampering accepted)
 *   unclean      exit 1 with an internal message, a stack, several lines, or nothing named
 *   blow-up      an allocation failure (V8 heap, array buffer, onnxruntime arena, std::bad_alloc)
 *   crash        killed by a signal or an exit code other than 0, 1, 130
 *   hang         still running at the timeout
 *
 * Usage: node --import tsx tools/fuzz-hostile-inputs.ts [--work DIR] [--only SURFACE] [--cases N]
 *          [--timeout SECONDS] [--as BYTES] [--jobs N] [--report FILE.json]
 * Run it niced: `nice -n 10 node --import tsx tools/fuzz-hostile-inputs.ts`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { deflateSync, gzipSync } from 'node:zlib';
import { contentDigest } from '../src/cli/likelihood-integrity.js';
import { encodeIdx } from '../src/data/idx.js';
import { encodePNG, parseSafetensors, serializeSafetensors } from '../src/io/index.js';
import { pngChunk as chunk } from '../src/io/png.js';
import { Tensor } from '../src/tensor.js';
import { STATE_INFO_KEYS } from '../src/training/training-state-checks.js';
import { MICRO_CONFIG } from '../test/training/helpers.js';

/** Parsed JSON being edited on purpose. */
// biome-ignore lint/suspicious/noExplicitAny: the fuzz edits arbitrary fields of parsed JSON
type Json = any;

const { values: flags } = parseArgs({
  options: {
    work: { type: 'string' },
    only: { type: 'string' },
    cases: { type: 'string' },
    timeout: { type: 'string', default: '120' },
    as: { type: 'string', default: '4000000000' },
    report: { type: 'string' },
    jobs: { type: 'string', default: '3' },
  },
});
const REPO = resolve(import.meta.dirname, '..');
const W = flags.work ?? mkdtempSync(join(tmpdir(), 'scoresde-fuzz-'));
mkdirSync(W, { recursive: true });
const TIMEOUT_S = Number(flags.timeout);
const FIXTURE_DATA = join(REPO, 'test/fixtures/fashion-mnist');

// ----- the CLI under a cap -----

interface Outcome {
  status: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
  seconds: number;
}

/** Runs the CLI under the address-space cap; killed (SIGKILL) at the timeout. */
function runCli(args: string[]): Promise<Outcome> {
  const t0 = performance.now();
  const child = spawn(
    'prlimit',
    [
      `--as=${flags.as}`,
      process.execPath,
      '--disable-wasm-trap-handler', // wasm's guard regions alone would exceed the cap
      '--import',
      'tsx',
      join(REPO, 'src/cli/main.ts'),
      ...args,
    ],
    {
      cwd: REPO,
      // glibc's per-thread malloc arenas (64 MB of address space each) would exhaust the cap on their own
      env: { ...process.env, MALLOC_ARENA_MAX: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 1 << 20) stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, TIMEOUT_S * 1000);
  return new Promise((done) =>
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, timedOut, stderr, seconds: (performance.now() - t0) / 1000 });
    }),
  );
}

// ----- small valid inputs -----

let seed = 12345;
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const randInt = (n: number) => Math.floor(rand() * n);

const greyPng = (size: number, k: number) =>
  encodePNG({
    width: size,
    height: size,
    channels: 1,
    data: Uint8Array.from({ length: size * size }, (_, i) => (i * 7 + k * 31) & 255),
  });

/** A grey PNG declaring width × height whose IDAT holds `rows` zero rows (a bomb when rows < height). */
function pngDeclaring(width: number, height: number, rows: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(new Uint8Array(rows * (width + 1)))),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

function flipBytes(bytes: Uint8Array, n: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < n; i++) out[randInt(out.length)] ^= 1 << randInt(8);
  return out;
}

function sparse(path: string, bytes: number): void {
  writeFileSync(path, '');
  truncateSync(path, bytes);
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

// ----- the bases every case copies -----

async function setup() {
  const micro = join(W, 'micro.json');
  writeFileSync(micro, JSON.stringify(MICRO_CONFIG));
  const images = join(W, 'images');
  mkdirSync(images, { recursive: true });
  for (let k = 0; k < 4; k++) writeFileSync(join(images, `img-${k}.png`), greyPng(8, k));
  const samples = join(W, 'samples');
  mkdirSync(samples, { recursive: true });
  for (let k = 0; k < 4; k++) writeFileSync(join(samples, `${k}.png`), greyPng(32, k));
  const run = join(W, 'base-run');
  const steps: [string, string[]][] = [
    [
      run,
      ['train', '--config', micro, '--data', images, '--out', run, '--steps', '1', '--batch-size', '2', '-q'],
    ],
    ...[0, 1].map((i): [string, string[]] => [
      join(W, `shard-${i}.json`),
      [
        'likelihood',
        ...['--model', run, '--data', images, '--count', '3', '--batch-size', '1', '--rtol', '1e-2'],
        ...['--atol', '1e-2', '--shard', `${i}/2`, '--out', join(W, `shard-${i}.json`), '-q'],
      ],
    ]),
  ];
  for (const [made, args] of steps) {
    if (existsSync(made)) continue;
    const r = await runCli(args);
    if (r.status !== 0) throw new Error(`setup: scoresde ${args.join(' ')} failed:\n${r.stderr}`);
  }
  return { micro, images, samples, run };
}

// ----- cases -----

/** What a file can be instead of a regular file, or instead of a small one. */
const SPECIALS: [string, (file: string) => void][] = [
  ['FIFO', (f) => execFileSync('mkfifo', [f])],
  ['link to /dev/zero', (f) => symlinkSync('/dev/zero', f)],
  ['sparse 300 MB', (f) => sparse(f, 300_000_000)],
  ['a folder', (f) => mkdirSync(f)],
];

type Expect = 'refuse' | 'warn-or-refuse' | 'any';

interface Case {
  surface: string;
  name: string;
  expect: Expect;
  /** Builds the input in `dir` (a fresh folder) and returns the CLI arguments. */
  build: (dir: string) => string[];
}

function cases(base: Awaited<ReturnType<typeof setup>>): Case[] {
  const out: Case[] = [];
  const add = (surface: string, name: string, expect: Expect, build: (dir: string) => string[]) =>
    out.push({ surface, name, expect, build });

  // --- train --data: a folder of good images plus one hostile entry ---
  const trainArgs = (data: string, dir: string, extra: string[] = []) => [
    'train',
    ...['--config', base.micro, '--data', data, '--out', join(dir, 'out'), '--steps', '1'],
    ...['--batch-size', '2', '-q', ...extra],
  ];
  const withEntry = (name: string, expect: Expect, make: (d: string) => void, extra: string[] = []) =>
    add('train --data', name, expect, (dir) => {
      const d = join(dir, 'data');
      cpSync(base.images, d, { recursive: true });
      make(d);
      return trainArgs(d, dir, extra);
    });
  withEntry('FIFO x.png', 'warn-or-refuse', (d) => execFileSync('mkfifo', [join(d, 'x.png')]));
  for (const dev of ['/dev/zero', '/dev/urandom', '/dev/null', '/proc/self/mem', '/proc/self/fd/0'])
    withEntry(`link x.png -> ${dev}`, 'warn-or-refuse', (d) => symlinkSync(dev, join(d, 'x.png')));
  withEntry('dangling link x.png', 'warn-or-refuse', (d) =>
    symlinkSync(join(d, 'nothing'), join(d, 'x.png')),
  );
  withEntry('folder named x.png', 'any', (d) => mkdirSync(join(d, 'x.png')));
  withEntry('sub/root -> /', 'warn-or-refuse', (d) => {
    mkdirSync(join(d, 'sub'));
    symlinkSync('/', join(d, 'sub', 'root'));
  });
  withEntry('link loop sub/up -> ..', 'any', (d) => {
    mkdirSync(join(d, 'sub'));
    symlinkSync('..', join(d, 'sub', 'up'));
  });
  withEntry('link to a PNG outside', 'warn-or-refuse', (d) =>
    symlinkSync(join(base.samples, '0.png'), join(d, 'x.png')),
  );
  withEntry('name not UTF-8', 'any', (d) =>
    writeFileSync(Buffer.from(`${d}/\xe9.png`, 'latin1'), greyPng(8, 9)),
  );
  const bad: [string, () => Uint8Array, Expect?][] = [
    ['67000000x1 PNG (65 KB)', () => pngDeclaring(67_000_000, 1, 1)],
    ['100000x1 PNG (6.4 MP resized for 8x8: within the limit)', () => pngDeclaring(100_000, 1, 1), 'any'],
    ['100000x100000 PNG bomb', () => pngDeclaring(100_000, 100_000, 2)],
    ['1x67000000 PNG', () => pngDeclaring(1, 67_000_000, 4)],
    ['8192x8192 PNG, 4 rows', () => pngDeclaring(8192, 8192, 4)],
    ['empty x.png', () => new Uint8Array(0)],
    ['random bytes', () => Uint8Array.from({ length: 500 }, () => randInt(256))],
    ['SVG renamed', () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>')],
    ['truncated PNG', () => greyPng(8, 1).subarray(0, 40)],
    [
      'JPEG magic then junk',
      () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 7)]),
    ],
    ['GIF magic, 65535x65535', () => Buffer.from('GIF89a\xff\xff\xff\xff\x00\x00\x00;', 'latin1')],
  ];
  for (const [name, bytes, expect] of bad) {
    withEntry(name, expect ?? 'refuse', (d) => writeFileSync(join(d, 'x.png'), bytes()));
    withEntry(
      `${name}, --skip-unreadable`,
      expect ?? 'warn-or-refuse',
      (d) => writeFileSync(join(d, 'x.png'), bytes()),
      ['--skip-unreadable'],
    );
  }
  withEntry('sparse 300 MB x.png', 'refuse', (d) => sparse(join(d, 'x.png'), 300_000_000));
  for (let i = 0; i < 12; i++)
    withEntry(`PNG with ${1 + (i % 4)} flipped bits (#${i})`, 'any', (d) =>
      writeFileSync(join(d, 'img-0.png'), flipBytes(greyPng(8, 0), 1 + (i % 4))),
    );
  // IDX files given as --data
  const idx = (dims: number[], fill = 0) =>
    encodeIdx(dims, new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(fill));
  const idxCase = (name: string, expect: Expect, make: (file: string) => void) =>
    add('train --data', `IDX: ${name}`, expect, (dir) => {
      const file = join(dir, 'train-images-idx3-ubyte');
      make(file);
      return trainArgs(file, dir);
    });
  idxCase('FIFO', 'refuse', (f) => execFileSync('mkfifo', [f]));
  idxCase('link to /dev/zero', 'refuse', (f) => symlinkSync('/dev/zero', f));
  idxCase('dims lie (10^9 images)', 'refuse', (f) => {
    const b = idx([2, 8, 8]);
    new DataView(b.buffer).setUint32(4, 1e9);
    writeFileSync(f, b);
  });
  idxCase('gzip bomb (2 GB of zeros declared)', 'refuse', (f) => {
    const head = Buffer.from([0, 0, 8, 3, 0, 0, 0, 30, 0, 0, 0x20, 0, 0, 0, 0x20, 0]); // 30 × 8192 × 8192
    writeFileSync(f, gzipSync(Buffer.concat([head, Buffer.alloc(8 << 20)])));
  });
  idxCase('28x28 for an 8x8 model', 'refuse', (f) => writeFileSync(f, idx([3, 28, 28], 9)));
  idxCase('truncated', 'refuse', (f) => writeFileSync(f, idx([3, 8, 8]).subarray(0, 100)));
  idxCase('zero dims', 'refuse', (f) => writeFileSync(f, idx([0, 8, 8])));
  idxCase('valid 8x8', 'any', (f) => writeFileSync(f, idx([3, 8, 8], 100)));
  for (let i = 0; i < 6; i++)
    idxCase(`${1 + i} flipped bytes in a gzip IDX (#${i})`, 'any', (f) =>
      writeFileSync(f, flipBytes(gzipSync(idx([3, 8, 8], 50 + i)), 1 + i)),
    );

  // --- train --config and its flags ---
  const configCase = (name: string, expect: Expect, config: () => unknown, extra: string[] = []) =>
    add('train --config', name, expect, (dir) => {
      const file = join(dir, 'config.json');
      const c = config();
      writeFileSync(file, typeof c === 'string' ? c : JSON.stringify(c));
      return trainArgs(base.images, dir, extra).map((a) => (a === base.micro ? file : a));
    });
  configCase('in_channels 7', 'refuse', () => ({ ...MICRO_CONFIG, in_channels: 7, out_channels: 7 }));
  configCase('block_out_channels [2048, 2048]', 'refuse', () => ({
    ...MICRO_CONFIG,
    block_out_channels: [2048, 2048],
    down_block_types: ['DownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'UpBlock2D'],
  }));
  configCase('layers_per_block 1e6', 'refuse', () => ({ ...MICRO_CONFIG, layers_per_block: 1e6 }));
  configCase('sample_size 4096', 'refuse', () => ({ ...MICRO_CONFIG, sample_size: 4096 }));
  configCase('norm_num_groups 0', 'refuse', () => ({ ...MICRO_CONFIG, norm_num_groups: 0 }));
  configCase('16x16 model on 8x8 images', 'any', () => ({ ...MICRO_CONFIG, sample_size: 16 }));
  configCase('not JSON', 'refuse', () => '{"sample_size": 8,');
  configCase('nested 10^5 deep', 'refuse', () => `${'['.repeat(1e5)}${']'.repeat(1e5)}`);
  configCase('--batch-size 100000', 'refuse', () => MICRO_CONFIG, ['--batch-size', '100000']);
  configCase('--max-memory 1M', 'refuse', () => MICRO_CONFIG, ['--max-memory', '1M']);
  configCase('--max-memory lots', 'refuse', () => MICRO_CONFIG, ['--max-memory', 'lots']);
  for (const [name, make] of SPECIALS)
    add('train --config', `config.json is ${name}`, 'refuse', (dir) => {
      const file = join(dir, 'config.json');
      make(file);
      return trainArgs(base.images, dir).map((a) => (a === base.micro ? file : a));
    });

  // --- train --resume: the base run, edited ---
  const resumeCase = (name: string, expect: Expect, edit: (stateDir: string, current: string) => void) =>
    add('train --resume', name, expect, (dir) => {
      const run = join(dir, 'run');
      cpSync(base.run, run, { recursive: true });
      const stateDir = join(run, 'training_state');
      const current = JSON.parse(readFileSync(join(stateDir, 'manifest.json'), 'utf8')).current;
      edit(stateDir, join(stateDir, current));
      return ['train', '--out', run, '--resume', '--steps', '2', '-q'];
    });
  const manifestEdit = (name: string, change: (m: Json) => void) =>
    resumeCase(`manifest: ${name}`, 'refuse', (s) => {
      const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8'));
      change(m);
      writeFileSync(join(s, 'manifest.json'), JSON.stringify(m));
    });
  manifestEdit('unknown entry', (m) => (m.extra = 1));
  manifestEdit('unknown file', (m) => (m.files['x.bin'] = m.files['state.json']));
  manifestEdit('step -1', (m) => (m.step = -1));
  manifestEdit('current ../../etc', (m) => (m.current = '../../etc'));
  manifestEdit('sha256 of state.json wrong', (m) => (m.files['state.json'].sha256 = '0'.repeat(64)));
  manifestEdit('bytes 1e15', (m) => (m.files['state.safetensors'].bytes = 1e15));
  manifestEdit('files null', (m) => (m.files = null));
  for (const [name, make] of SPECIALS) {
    for (const file of ['manifest.json', 'state.json', 'state.safetensors'])
      resumeCase(`${file} is ${name}`, 'refuse', (s, c) => {
        const f = join(file === 'manifest.json' ? s : c, file);
        unlinkSync(f);
        make(f);
      });
  }
  /** Rewrites a checkpoint file and its manifest entry, as a careful forger would. */
  const reseal = (s: string, c: string, file: string, bytes: Uint8Array | string) => {
    writeFileSync(join(c, file), bytes);
    const m = JSON.parse(readFileSync(join(s, 'manifest.json'), 'utf8'));
    m.files[file] = { bytes: Buffer.byteLength(bytes), sha256: sha256(bytes) };
    writeFileSync(join(s, 'manifest.json'), JSON.stringify(m));
  };
  const stateEdit = (name: string, change: (info: Json) => void) =>
    resumeCase(`state.json resealed: ${name}`, 'refuse', (s, c) => {
      const info = JSON.parse(readFileSync(join(c, 'state.json'), 'utf8'));
      change(info);
      reseal(s, c, 'state.json', JSON.stringify(info));
    });
  stateEdit('truncated JSON', () => undefined);
  out.at(-1)!.build = ((orig) => (dir: string) => {
    const args = orig(dir);
    const c = join(args[2], 'training_state');
    const m = JSON.parse(readFileSync(join(c, 'manifest.json'), 'utf8'));
    reseal(
      c,
      join(c, m.current),
      'state.json',
      readFileSync(join(c, m.current, 'state.json'), 'utf8').slice(0, 50),
    );
    return args;
  })(out.at(-1)!.build);
  stateEdit('unknown field', (i) => (i.extra = true));
  stateEdit('trainedKeys a number', (i) => (i.trainedKeys = 5));
  stateEdit('trainedKeys lacks a key', (i) => i.trainedKeys.pop());
  stateEdit('generator mt short', (i) => (i.generator.mt = [1, 2, 3]));
  stateEdit('loader index 10^9', (i) => (i.loader.index = 1e9));
  stateEdit('options lr -1', (i) => (i.options.lr = -1));
  stateEdit('options batchSize 10^9', (i) => (i.options.batchSize = 1e9));
  stateEdit('unetConfig in_channels 7', (i) => (i.unetConfig.in_channels = 7));
  stateEdit('data length 10^6', (i) => (i.data.length = 1e6));
  stateEdit('step a string', (i) => (i.step = '1'));
  for (const key of STATE_INFO_KEYS) stateEdit(`field ${key} deleted`, (i) => delete i[key]);
  for (const key of ['format', 'version', 'step', 'current', 'files'])
    manifestEdit(`entry ${key} deleted`, (m) => delete m[key]);
  const tensorEdit = (name: string, change: (t: Map<string, Tensor>) => void) =>
    resumeCase(`state.safetensors resealed: ${name}`, 'refuse', (s, c) => {
      const file = join(c, 'state.safetensors');
      const { tensors, metadata } = parseSafetensors(readFileSync(file), file);
      change(tensors);
      reseal(s, c, 'state.safetensors', serializeSafetensors(tensors, metadata));
    });
  const reshape = (t: Map<string, Tensor>, key: string, dims: number[]) =>
    t.set(key, new Tensor('float32', t.get(key)!.data as Float32Array, dims));
  tensorEdit('Adam moment [8,1,3,3] -> [1,8,9]', (t) => reshape(t, 'adam_m/conv_in.weight', [1, 8, 9]));
  tensorEdit('parameter and moments [8,1,3,3] -> [8,9]', (t) => {
    for (const g of ['param', 'ema', 'adam_m', 'adam_v']) reshape(t, `${g}/conv_in.weight`, [8, 9]);
  });
  tensorEdit(
    'NaN in adam_v',
    (t) => ((t.get('adam_v/conv_in.weight')!.data as Float32Array)[0] = Number.NaN),
  );
  tensorEdit('negative adam_v', (t) => ((t.get('adam_v/conv_in.weight')!.data as Float32Array)[0] = -1));
  tensorEdit('extra tensor', (t) => t.set('ema/nothing', new Tensor('float32', new Float32Array(2), [2])));
  tensorEdit('unknown group', (t) => t.set('other/x', new Tensor('float32', new Float32Array(2), [2])));
  tensorEdit('parameter missing', (t) => t.delete('param/conv_in.weight'));
  for (let i = 0; i < 6; i++)
    resumeCase(`state.safetensors: ${1 + i} flipped bytes, resealed (#${i})`, 'any', (s, c) =>
      reseal(s, c, 'state.safetensors', flipBytes(readFileSync(join(c, 'state.safetensors')), 1 + i)),
    );

  // --- likelihood: flags and data ---
  const lik = (_dir: string, data: string, extra: string[]) => [
    'likelihood',
    ...['--model', base.run, '--data', data, '--batch-size', '1', '--rtol', '1e-2', '--atol', '1e-2', '-q'],
    ...extra,
  ];
  add('likelihood', '--count 1000000000000', 'any', (dir) =>
    lik(dir, base.images, ['--count', '1000000000000']),
  );
  add('likelihood', '--batch-size 4096 --max-memory 64M', 'refuse', (dir) =>
    lik(dir, base.images, ['--batch-size', '4096', '--max-memory', '64M']),
  );
  add('likelihood', '--count 0', 'refuse', (dir) => lik(dir, base.images, ['--count', '0']));
  add('likelihood', '--data FIFO', 'refuse', (dir) => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    return lik(dir, join(dir, 'fifo'), []);
  });
  add('likelihood', '--data link to /dev/zero', 'refuse', (dir) => {
    symlinkSync('/dev/zero', join(dir, 'zero'));
    return lik(dir, join(dir, 'zero'), []);
  });
  add('likelihood', '--data folder with sub/root -> /', 'warn-or-refuse', (dir) => {
    const d = join(dir, 'data');
    cpSync(base.images, d, { recursive: true });
    mkdirSync(join(d, 'sub'));
    symlinkSync('/', join(d, 'sub', 'root'));
    return lik(dir, d, ['--count', '1']);
  });
  add('likelihood', '--out is a folder', 'refuse', (dir) => {
    mkdirSync(join(dir, 'r.json'));
    return lik(dir, base.images, ['--out', join(dir, 'r.json'), '--count', '1']);
  });

  // --- likelihood journals: the whole run's journal with one batch left to solve, edited ---
  const shards = [0, 1].map((i) => JSON.parse(readFileSync(join(W, `shard-${i}.json`), 'utf8')));
  const journalCase = (name: string, expect: Expect, make: (file: string, j: Json) => void) =>
    add('likelihood journal', name, expect, (dir) => {
      const result = join(dir, 'r.json');
      // a copy: edits must not reach the shards that later cases start from
      const batches = structuredClone([...shards[0].batches, ...shards[1].batches].slice(0, -1));
      const settings = structuredClone(shards[0].settings);
      const j = { format: 'scoresde-likelihood-journal', version: 2, settings, batches, sha256: '' };
      j.sha256 = contentDigest(settings, batches);
      make(`${result}.partial.json`, j);
      return lik(dir, base.images, ['--count', '3', '--out', result]);
    });
  const write = (f: string, j: unknown) => writeFileSync(f, JSON.stringify(j));
  /** An edit of the journal's JSON; `reseal` recomputes its SHA-256 as a careful forger would. */
  const journalEdit = (name: string, expect: Expect, change: (j: Json) => void, reseal = false) =>
    journalCase(name, expect, (f, j) => {
      change(j);
      if (reseal) j.sha256 = contentDigest(j.settings, j.batches);
      write(f, j);
    });
  journalEdit('untouched (resumes)', 'any', () => {});
  journalEdit('bitsPerDim -5', 'refuse', (j) => {
    j.batches[0].bitsPerDim[0] = -5;
  });
  journalEdit(
    'bitsPerDim -5, resealed',
    'refuse',
    (j) => {
      j.batches[0].bitsPerDim[0] = -5;
    },
    true,
  );
  journalEdit(
    'bitsPerDim 1e300, resealed',
    'refuse',
    (j) => {
      j.batches[0].bitsPerDim[0] = 1e300;
    },
    true,
  );
  journalEdit('extra value, resealed', 'refuse', (j) => j.batches[0].bitsPerDim.push(7), true);
  journalEdit(
    'batch 99, resealed',
    'refuse',
    (j) => {
      j.batches[0].batch = 99;
    },
    true,
  );
  journalEdit(
    'start moved, resealed',
    'refuse',
    (j) => {
      j.batches[1].start = 0;
    },
    true,
  );
  journalEdit(
    'pass 5, resealed',
    'refuse',
    (j) => {
      j.batches[0].pass = 5;
    },
    true,
  );
  journalEdit(
    'nfe -1, resealed',
    'refuse',
    (j) => {
      j.batches[0].nfe = -1;
    },
    true,
  );
  journalEdit(
    'other seed, resealed',
    'refuse',
    (j) => {
      j.settings.seed = '9';
    },
    true,
  );
  journalEdit('version 1', 'refuse', (j) => {
    j.version = 1;
  });
  journalEdit('batches not a list', 'refuse', (j) => {
    j.batches = {};
  });
  journalCase('not JSON', 'refuse', (f) => writeFileSync(f, '{"format": "scoresde-likelihood-journal",'));
  journalCase('a folder', 'refuse', (f) => mkdirSync(f));
  journalCase('FIFO', 'refuse', (f) => execFileSync('mkfifo', [f]));
  journalCase('link to /dev/zero', 'refuse', (f) => symlinkSync('/dev/zero', f));
  journalCase('link to /proc/self/mem', 'refuse', (f) => symlinkSync('/proc/self/mem', f));
  journalCase('sparse 400 MB', 'refuse', (f) => sparse(f, 400_000_000));
  for (let i = 0; i < 8; i++)
    journalCase(`${1 + i} flipped bytes (#${i})`, 'any', (f, j) =>
      writeFileSync(f, flipBytes(Buffer.from(JSON.stringify(j)), 1 + i)),
    );

  // --- likelihood --merge of the two shards, one edited ---
  const mergeCase = (name: string, expect: Expect, make: (file: string, s: Json) => void) =>
    add('likelihood --merge', name, expect, (dir) => {
      const s0 = join(dir, 's0.json');
      make(s0, structuredClone(shards[0]));
      return ['likelihood', '--merge', s0, join(W, 'shard-1.json'), '--out', join(dir, 'merged.json')];
    });
  const mergeEdit = (name: string, expect: Expect, change: (s: Json) => void, reseal = false) =>
    mergeCase(name, expect, (f, s) => {
      change(s);
      if (reseal) s.sha256 = contentDigest(s.settings, s.batches);
      write(f, s);
    });
  mergeEdit('untouched', 'any', () => {});
  mergeEdit('values [-5, 1e300]', 'refuse', (s) => {
    s.batches[0].bitsPerDim = [-5, 1e300];
  });
  mergeEdit(
    'values [-5, 1e300], resealed',
    'refuse',
    (s) => {
      s.batches[0].bitsPerDim = [-5, 1e300];
    },
    true,
  );
  mergeEdit('bits/dim -5', 'refuse', (s) => {
    s.batches[0].bitsPerDim[0] = -5;
  });
  mergeEdit(
    'bits/dim -5, resealed',
    'refuse',
    (s) => {
      s.batches[0].bitsPerDim[0] = -5;
    },
    true,
  );
  mergeEdit('perImage edited (derived, recomputed)', 'any', (s) => {
    s.perImage[0] = -5;
  });
  mergeEdit(
    'batch moved, resealed',
    'refuse',
    (s) => {
      s.batches[0].batch = 1;
    },
    true,
  );
  mergeEdit(
    'count 10^12, resealed',
    'refuse',
    (s) => {
      s.settings.count = 1e12;
    },
    true,
  );
  mergeEdit(
    'other weights, resealed',
    'refuse',
    (s) => {
      s.settings.weights = 'x';
    },
    true,
  );
  mergeEdit('version 1', 'refuse', (s) => {
    s.version = 1;
  });
  mergeCase('not JSON', 'refuse', (f) => writeFileSync(f, '{'));
  mergeCase('a folder', 'refuse', (f) => mkdirSync(f));
  mergeCase('FIFO', 'refuse', (f) => execFileSync('mkfifo', [f]));
  mergeCase('link to /dev/zero', 'refuse', (f) => symlinkSync('/dev/zero', f));
  mergeCase('sparse 300 MB', 'refuse', (f) => sparse(f, 300_000_000));
  for (let i = 0; i < 8; i++)
    mergeCase(`${1 + i} flipped bytes (#${i})`, 'any', (f, s) =>
      writeFileSync(f, flipBytes(Buffer.from(JSON.stringify(s)), 1 + i)),
    );

  // --- evaluate --samples and --count ---
  const evalArgs = (samples: string, extra: string[] = []) => [
    'evaluate',
    ...['--samples', samples, '--data', FIXTURE_DATA, '--reference-count', '16', '-q', ...extra],
  ];
  const samplesCase = (name: string, expect: Expect, make: (d: string) => void) =>
    add('evaluate --samples', name, expect, (dir) => {
      const d = join(dir, 'samples');
      cpSync(base.samples, d, { recursive: true });
      make(d);
      return evalArgs(d);
    });
  samplesCase('FIFO x.png', 'warn-or-refuse', (d) => execFileSync('mkfifo', [join(d, 'x.png')]));
  for (const dev of ['/dev/zero', '/dev/urandom', '/proc/self/mem'])
    samplesCase(`link x.png -> ${dev}`, dev.startsWith('/proc') ? 'refuse' : 'warn-or-refuse', (d) =>
      symlinkSync(dev, join(d, 'x.png')),
    );
  samplesCase('folder named x.png', 'warn-or-refuse', (d) => mkdirSync(join(d, 'x.png')));
  samplesCase('dangling link', 'warn-or-refuse', (d) => symlinkSync(join(d, 'none'), join(d, 'x.png')));
  samplesCase('67000000x1 PNG', 'refuse', (d) =>
    writeFileSync(join(d, 'x.png'), pngDeclaring(67_000_000, 1, 1)),
  );
  samplesCase('100000x100000 PNG bomb', 'refuse', (d) =>
    writeFileSync(join(d, 'x.png'), pngDeclaring(100_000, 100_000, 2)),
  );
  samplesCase('sparse 300 MB x.png', 'refuse', (d) => sparse(join(d, 'x.png'), 300_000_000));
  samplesCase('16x16 among 32x32', 'refuse', (d) => writeFileSync(join(d, 'x.png'), greyPng(16, 1)));
  samplesCase('random bytes', 'refuse', (d) =>
    writeFileSync(
      join(d, 'x.png'),
      Uint8Array.from({ length: 300 }, () => randInt(256)),
    ),
  );
  for (let i = 0; i < 6; i++)
    samplesCase(`${1 + i} flipped bits (#${i})`, 'any', (d) =>
      writeFileSync(join(d, '0.png'), flipBytes(greyPng(32, 0), 1 + i)),
    );
  add('evaluate --samples', 'folder is a FIFO', 'refuse', (dir) => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    return evalArgs(join(dir, 'fifo'));
  });
  add('evaluate --samples', '--count 1000000000', 'any', () =>
    evalArgs(base.samples, ['--count', '1000000000']),
  );
  add('evaluate --count', '--count 1000000000 (sampling)', 'refuse', () => [
    'evaluate',
    ...[
      '--model',
      base.run,
      '--data',
      FIXTURE_DATA,
      '--reference-count',
      '16',
      '--count',
      '1000000000',
      '-q',
    ],
  ]);
  add('evaluate --count', '--count 100000 --max-memory 64M', 'refuse', () => [
    'evaluate',
    ...['--model', base.run, '--data', FIXTURE_DATA, '--reference-count', '16', '--count', '100000'],
    ...['--max-memory', '64M', '-q'],
  ]);
  return out;
}

// ----- classification -----

const BLOW_UP =
  /heap out of memory|Array buffer allocation failed|std::bad_alloc|Cannot allocate|Failed to allocate|BFCArena|allocation failed|Invalid typed array length|Invalid array length/i;
const INTERNAL =
  /SCORESDE_DEBUG|internal|TypeError|RangeError|ReferenceError|EISDIR|EIO|ENOENT|Unexpected end of JSON/;

type Verdict = 'refused' | 'accepted' | 'silent' | 'unclean' | 'blow-up' | 'crash' | 'hang';

function classify(c: Case, o: Outcome, paths: string[]): { verdict: Verdict; line: string } {
  const lines = o.stderr.split('\n').filter((l) => l.trim() !== '');
  const errorLine = lines.filter((l) => l.startsWith('scoresde: ')).at(-1) ?? lines.at(-1) ?? '';
  if (o.timedOut) return { verdict: 'hang', line: errorLine };
  if (BLOW_UP.test(o.stderr) || o.status === 134) return { verdict: 'blow-up', line: errorLine };
  if (o.signal || (o.status !== 0 && o.status !== 1 && o.status !== 130))
    return { verdict: 'crash', line: errorLine };
  if (/^\s+at .+[(:]/m.test(o.stderr)) return { verdict: 'crash', line: errorLine };
  if (o.status === 0) {
    const warned = lines.some((l) => /skipped|ignored|using all/.test(l));
    const silent = c.expect === 'refuse' || (c.expect === 'warn-or-refuse' && !warned);
    return {
      verdict: silent ? 'silent' : 'accepted',
      line: warned ? lines.find((l) => /skipped|ignored|using all/.test(l))! : '',
    };
  }
  const usageHint = lines.length === 2 && /^Run "scoresde \w+ --help"/.test(lines[1]);
  const errorLines = lines.filter((l) => l.startsWith('scoresde: ') && !/: skipped|: ignored/.test(l));
  const names =
    /--[a-z]/.test(errorLine) || paths.some((p) => errorLine.includes(p)) || /\/[\w.-]+/.test(errorLine);
  const clean =
    errorLines.length === 1 && (usageHint || lines.every((l) => l.startsWith('scoresde: '))) && names;
  return { verdict: clean && !INTERNAL.test(o.stderr) ? 'refused' : 'unclean', line: errorLine };
}

// ----- the round -----

const base = await setup();
let all = cases(base);
if (flags.only) all = all.filter((c) => c.surface.startsWith(flags.only!));
if (flags.cases) all = all.slice(0, Number(flags.cases));
const results: { surface: string; name: string; verdict: Verdict; seconds: number; line: string }[] = [];
let next = 0;
let finished = 0;
const worker = async () => {
  while (next < all.length) {
    const i = next++;
    const c = all[i];
    const dir = join(W, 'cases', String(i));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const o = await runCli(c.build(dir));
    const { verdict, line } = classify(c, o, [dir, base.run, base.images, base.samples, W]);
    results[i] = { surface: c.surface, name: c.name, verdict, seconds: Number(o.seconds.toFixed(1)), line };
    process.stderr.write(
      `${String(++finished).padStart(3)}/${all.length} ${verdict.padEnd(8)} ${o.seconds.toFixed(0).padStart(3)} s ${c.surface}: ${c.name}  ${line.slice(0, 160)}\n`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
};
await Promise.all(Array.from({ length: Number(flags.jobs) }, worker));
// A case still running at the timeout on a loaded machine runs once more, alone: a hang is one that times
// out both times.
const retried: string[] = [];
for (const [i, r] of results.entries()) {
  if (r.verdict !== 'hang') continue;
  const dir = join(W, 'cases', String(i));
  mkdirSync(dir, { recursive: true });
  const o = await runCli(all[i].build(dir));
  const { verdict, line } = classify(all[i], o, [dir, base.run, base.images, base.samples, W]);
  results[i] = { ...r, verdict, seconds: Number(o.seconds.toFixed(1)), line };
  retried.push(`${r.surface}: ${r.name} (${verdict} in ${o.seconds.toFixed(0)} s alone)`);
  rmSync(dir, { recursive: true, force: true });
}

const VERDICTS: Verdict[] = ['refused', 'accepted', 'silent', 'unclean', 'blow-up', 'crash', 'hang'];
const surfaces = [...new Set(results.map((r) => r.surface))];
const table = [
  `| surface | cases | ${VERDICTS.join(' | ')} |`,
  `| --- | --- | ${VERDICTS.map(() => '---').join(' | ')} |`,
  ...[...surfaces, 'all'].map((s) => {
    const rs = results.filter((r) => s === 'all' || r.surface === s);
    return `| ${s} | ${rs.length} | ${VERDICTS.map((v) => rs.filter((r) => r.verdict === v).length).join(' | ')} |`;
  }),
].join('\n');
console.log(table);
const slowest = Math.max(...results.map((r) => r.seconds));
console.log(
  `\n${results.length} cases, each under a ${TIMEOUT_S} s timeout and prlimit --as=${flags.as}; slowest ${slowest} s`,
);
for (const r of retried) console.log(`timed out with ${flags.jobs} jobs, rerun alone: ${r}`);
for (const r of results.filter((x) => !['refused', 'accepted'].includes(x.verdict)))
  console.log(`${r.verdict}: ${r.surface}: ${r.name}: ${r.line}`);
if (flags.report) writeFileSync(flags.report, `${JSON.stringify({ table, results }, null, 1)}\n`);
if (!flags.work) rmSync(W, { recursive: true, force: true });
process.exitCode = results.every((r) => ['refused', 'accepted'].includes(r.verdict)) ? 0 : 1;
