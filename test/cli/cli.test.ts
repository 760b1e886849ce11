/** The `scoresde` executable, spawned as users run it, on the fixture checkpoints (few steps). */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodePNG, encodePNG } from '../../src/io/index.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import {
  DEFAULT_SCHEDULER_WARNING,
  numpyToPil,
  PipelineImage,
  ScoreSdeVePipeline,
} from '../../src/pipelines/index.js';
import { Generator } from '../../src/random/index.js';
import { SAMPLER_NAMES, SAMPLERS } from '../../src/samplers/index.js';
import { COMMITS, startFakeHub } from '../io/hub-fake-server.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const mainTs = join(repoRoot, 'src/cli/main.ts');
const fixture = (rel: string) => fileURLToPath(new URL(`../fixtures/${rel}`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `scoresde args…` with an isolated, offline Hugging Face cache (no other HF_* settings). */
function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HF_|HUGGING)/.test(k)));
  return spawn(process.execPath, ['--import', 'tsx', mainTs, ...args], {
    cwd: repoRoot,
    env: { ...base, HF_HOME: join(tmp, 'hf-home'), HF_HUB_OFFLINE: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function finish(child: ChildProcess, onStderr?: (all: string) => void): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    onStderr?.(stderr);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const run = (args: string[], env?: Record<string, string>) => finish(start(args, env));

/** The fixture model in-process; it has no scheduler config, so the default-scheduler warning is expected. */
async function tinyNcsnpp(): Promise<ScoreSdeVePipeline> {
  const codes: (string | undefined)[] = [];
  const pipe = await ScoreSdeVePipeline.fromPretrained(fixture('models/tiny-ncsnpp'), {
    onWarning: (_message, code) => codes.push(code),
  });
  assert.deepEqual(codes, [DEFAULT_SCHEDULER_WARNING]);
  return pipe;
}

describe('scoresde CLI', () => {
  it('prints help for the program and every command, exit 0', async () => {
    const main = await run(['--help']);
    assert.equal(main.code, 0);
    assert.match(main.stdout, /Usage: scoresde <command>/);
    assert.match(main.stdout, /-v, --version /);
    const helps = [main.stdout];
    for (const command of ['sample', 'info', 'inpaint', 'colorize']) {
      const r = await run([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Usage: scoresde ${command} \\[?--model`));
      helps.push(r.stdout);
      if (command !== 'info') assert.match(r.stdout, /-o, --out <dir> /);
    }
    // For a model given with --model: each sampler's default step count, from the samplers table.
    const list = await run(['sample', '--list-samplers', '--model', fixture('models/tiny-ncsnpp')]);
    assert.equal(list.code, 0);
    assert.deepEqual(
      list.stdout
        .split('\n\n')[0]
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
      [...SAMPLER_NAMES],
    );
    for (const name of SAMPLER_NAMES) {
      const steps = (SAMPLERS[name].defaults as { steps?: number }).steps;
      assert.match(
        list.stdout,
        new RegExp(`^${name} +${steps === undefined ? 'adaptive' : `${steps} steps`} `, 'm'),
      );
    }
    helps.push(list.stdout);
    // The other commands' help texts keep to the same width.
    for (const command of ['train', 'likelihood', 'interpolate', 'evaluate']) {
      const r = await run([command, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: scoresde ${command} `));
      helps.push(r.stdout);
    }
    for (const text of helps) {
      for (const line of text.split('\n'))
        assert.ok([...line].length <= 80, `wider than 80 columns: ${line}`);
    }
  });

  it('rejects unknown commands and bad flags with exit 1', async () => {
    const unknown = await run(['paint']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command "paint"; did you mean inpaint\?/);
    const typo = await run(['sampel']);
    assert.match(typo.stderr, /^scoresde: unknown command "sampel"; did you mean sample\?\n/);
    const badSteps = await run(['sample', '--model', fixture('models/tiny-ncsnpp'), '--steps', 'ten']);
    assert.equal(badSteps.code, 1);
    assert.match(badSteps.stderr, /--steps must be an integer, got "ten"/);
    const badFlag = await run(['sample', '--model', fixture('models/tiny-ncsnpp'), '--stepz', '2']);
    assert.equal(badFlag.code, 1);
    assert.match(badFlag.stderr, /Unknown option '--stepz'; did you mean --steps\?/);
    const noModel = await run(['sample', '--model', '']);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /--model is required/);
  });

  it('says when a model folder does not exist, or a Hub model is not cached offline', async () => {
    const missing = await run(['sample', '--model', './no/such/model', '--steps', '2']);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /cannot load model "\.\/no\/such\/model": .*not an existing folder, nor a Hub repo id/,
    );
    assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace for a user error');

    const offline = await run([
      'sample',
      '--model',
      'nobody/no-such-model',
      '--steps',
      '2',
      '-o',
      join(tmp, 'o'),
    ]);
    assert.equal(offline.code, 1);
    // Short, naming the flag a CLI user has (not the library option localFilesOnly).
    assert.match(
      offline.stderr,
      /^scoresde: cannot load model "nobody\/no-such-model": not in the cache, and downloads are off \(--local-files-only or HF_HUB_OFFLINE=1\); run once online\n$/,
    );
    assert.doesNotMatch(offline.stderr, /\n\s+at /);
  });

  it('samples a batch: one PNG per image (its own seed) plus a grid, as the library does', async () => {
    const out = join(tmp, 'batch');
    const r = await run([
      'sample',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--steps',
      '2',
      '--batch-size',
      '2',
      '--seed',
      '1',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const files = ['sample-pc-2-s1.png', 'sample-pc-2-s2.png', 'sample-pc-2-s1-s2-grid.png'];
    assert.deepEqual(readdirSync(out).sort(), [...files].sort());
    // The progress bar (stderr is not a terminal: whole lines) ends at 2/2 with a rate.
    assert.match(r.stderr, /100%\|██████████\| 2\/2 \[\d\d:\d\d<00:00, +[\d.]+(step\/s|s\/step)\]/);
    assert.deepEqual(
      r.stdout.trim().split('\n'),
      files.map((f) => join(out, f)),
    );

    // One generator per image: the library's pipe.call with generator=[manual_seed(1), manual_seed(2)].
    const pipe = await tinyNcsnpp();
    pipe.setProgressBarConfig({ disable: true });
    try {
      const { images } = await pipe.call({
        batchSize: 2,
        numInferenceSteps: 2,
        generator: [new Generator().manualSeed(1), new Generator().manualSeed(2)],
      });
      for (const [i, seed] of [1, 2].entries()) {
        const png = decodePNG(readFileSync(join(out, `sample-pc-2-s${seed}.png`)));
        assert.deepEqual([png.width, png.height, png.channels], [32, 32, 3]);
        assert.deepEqual(png.data, images[i].data, `image ${i}`);
      }
    } finally {
      await pipe.release();
    }
    // And what Python diffusers gives (tools/refgen/cli_generator_list_ref.py).
    const ref = (await loadSafetensors(fixture('pipeline/tiny-ncsnpp_N2_b2_generators1-2.safetensors')))
      .tensors;
    const expected = numpyToPil(ref.get('images')! as never);
    const refFloat = ref.get('images')!.data as Float32Array;
    for (const [i, seed] of [1, 2].entries()) {
      const png = decodePNG(readFileSync(join(out, `sample-pc-2-s${seed}.png`)));
      // Exact where diffusers' image is 0 or 1 (README tolerance: atol 5e-3 elsewhere, i.e. ≤ 1 level in 8 bits).
      for (let k = 0; k < png.data.length; k++) {
        const r = refFloat[i * 32 * 32 * 3 + k];
        const tol = r === 0 || r === 1 ? 0 : 1;
        assert.ok(Math.abs(png.data[k] - expected[i].data[k]) <= tol, `image ${i} byte ${k}`);
      }
    }
    const grid = decodePNG(readFileSync(join(out, 'sample-pc-2-s1-s2-grid.png')));
    assert.equal(grid.width, 64);
    assert.equal(grid.height, 32);
    const first = decodePNG(readFileSync(join(out, 'sample-pc-2-s1.png')));
    const second = decodePNG(readFileSync(join(out, 'sample-pc-2-s2.png')));
    for (let y = 0; y < 32; y++) {
      assert.deepEqual(grid.data.subarray(y * 192, y * 192 + 96), first.data.subarray(y * 96, (y + 1) * 96));
      assert.deepEqual(
        grid.data.subarray(y * 192 + 96, (y + 1) * 192),
        second.data.subarray(y * 96, (y + 1) * 96),
      );
    }
  });

  it('--sampler runs another sampler, as the library does', async () => {
    const out = join(tmp, 'dpm');
    const r = await run([
      'sample',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--sampler',
      'dpmpp-2m',
      '--steps',
      '3',
      '--seed',
      '2',
      '--out',
      out,
      '-q',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pipe = await tinyNcsnpp();
    pipe.setProgressBarConfig({ disable: true });
    try {
      const { images } = await pipe.call({
        sampler: 'dpmpp-2m',
        numInferenceSteps: 3,
        generator: new Generator().manualSeed(2),
      });
      assert.deepEqual(decodePNG(readFileSync(join(out, 'sample-dpmpp-2m-3-s2.png'))).data, images[0].data);
    } finally {
      await pipe.release();
    }
    const bad = await run(['sample', '--model', fixture('models/tiny-ncsnpp'), '--sampler', 'ddim']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--sampler must be one of pc, ode, heun, dpmpp-2m, got "ddim"/);
  });

  it('sampler tuning flags reach the sampler; flags for another sampler are refused', async () => {
    const out = join(tmp, 'pc-flags');
    const flags = ['--predictor', 'ancestral', '--corrector', 'none', '--corrector-steps', '2'];
    const common = ['--model', fixture('models/tiny-ncsnpp'), '--steps', '3', '--seed', '4', '-q'];
    const r = await run(['sample', ...common, '--sampler', 'pc', ...flags, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const pipe = await tinyNcsnpp();
    pipe.setProgressBarConfig({ disable: true });
    try {
      const call = (samplerOptions: object) =>
        pipe.call({
          sampler: 'pc',
          numInferenceSteps: 3,
          generator: new Generator().manualSeed(4),
          outputType: 'np',
          samplerOptions,
        });
      const tuned = await call({ predictor: 'ancestral', corrector: 'none', correctSteps: 2 });
      const png = decodePNG(readFileSync(join(out, 'sample-pc-3-s4.png'))).data;
      assert.deepEqual(png, numpyToPil(tuned.images)[0].data);
      // The flags matter: diffusers' default pair gives another sample.
      const plain = await call({});
      assert.notDeepEqual(plain.images.data, tuned.images.data);
    } finally {
      await pipe.release();
    }
    const loop = await run(['sample', ...common, '--predictor', 'ancestral']);
    assert.equal(loop.code, 1);
    assert.match(
      loop.stderr,
      /--predictor applies to --sampler pc, not to diffusers' own loop; add --sampler pc/,
    );
    const wrong = await run(['sample', ...common, '--sampler', 'heun', '--rtol', '1e-3']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /--rtol applies to --sampler ode, not to heun/);
    // The one table: options pc reads are refused for heun, as --predictor is for diffusers' loop.
    const snr = await run(['sample', ...common, '--sampler', 'heun', '--snr', '0.2']);
    assert.equal(snr.code, 1);
    assert.match(snr.stderr, /^scoresde: --snr applies to --sampler pc, not to heun\n/);
    const odeSteps = await run(['sample', ...common, '--sampler', 'ode']);
    assert.equal(odeSteps.code, 1);
    assert.match(odeSteps.stderr, /--steps applies to --sampler pc or heun or dpmpp-2m, not to ode/);
    const badName = await run(['sample', ...common, '--sampler', 'pc', '--corrector', 'gibbs']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /--corrector must be one of langevin, annealed-langevin, none, got "gibbs"/);
  });

  it('stops on Ctrl-C with exit 130 and leaves no file behind', async () => {
    const out = join(tmp, 'interrupted');
    const child = start([
      'sample',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--steps',
      '2000',
      '--out',
      out,
    ]);
    let sent = false;
    // Interrupt once the first step has been reported (the bar's first line).
    const r = await finish(child, (all) => {
      if (!sent && /\| 1\/2000 /.test(all)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    assert.ok(sent, `never saw the first step: ${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted/);
    let files: string[] = [];
    try {
      files = readdirSync(out);
    } catch {
      // the folder was never created: nothing written
    }
    assert.deepEqual(files, []);
  });

  it('info: architecture, parameters, FLOPs and an estimate per image', async () => {
    const r = await run(['info', '--model', fixture('models/tiny-ddpm'), '--steps', '10']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /UNet2DModel +32×32, 3→3 channels, time embedding positional/);
    assert.match(r.stdout, /down blocks +DownBlock2D, AttnDownBlock2D/);
    // TIMINGS.md: 1,002,883 parameters, 0.4142 GMAC = 0.828 GFLOP per forward.
    assert.match(r.stdout, /parameters +1,002,883\n/);
    assert.match(r.stdout, /FLOPs +0\.828 GFLOP per forward at batch 1/);
    assert.match(r.stdout, /scheduler +ScoreSdeVeScheduler: σ 0\.01 … 1348, snr 0\.15, 1 corrector step/);
    // Without --sampler, sample runs diffusers' loop on a given model: one predictor and one corrector call a step.
    assert.match(r.stdout, /sample runs +diffusers' loop \(pc\), 10 steps: 20 UNet calls per image\n/);
    assert.match(r.stdout, /expected +20 UNet calls ≈ [\d.]+ s per image/);
  });
});

describe('scoresde inpaint / colorize', () => {
  /** A 32×32 test card: gradient in R, checkerboard in G, constant B. */
  const card = new PipelineImage(32, 32, new Uint8Array(32 * 32 * 3));
  for (let p = 0; p < 1024; p++) card.data.set([(p % 32) * 8, (p + (p >> 5)) % 2 ? 255 : 0, 100], p * 3);
  const dir = join(tmp, 'edit');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'card.png'), card.toPNG());
  // White (repaint) on the top half, black (keep) below; stored as a gray PNG.
  const maskGray = new Uint8Array(1024).fill(255, 0, 512);
  writeFileSync(join(dir, 'mask.png'), encodePNG({ width: 32, height: 32, channels: 1, data: maskGray }));

  it('inpaint keeps the black part of the mask and writes PNGs', async () => {
    const out = join(dir, 'inpaint');
    const r = await run([
      'inpaint',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--image',
      join(dir, 'card.png'),
      '--mask',
      join(dir, 'mask.png'),
      '--steps',
      '2',
      '--out',
      out,
      '-q',
    ]);
    assert.equal(r.code, 0, r.stderr);
    // -q hides the bar; the only output is the warning that this fixture folder has no scheduler config,
    // with advice for the command line.
    assert.match(
      r.stderr,
      /^scoresde: warning: .*tiny-ncsnpp has no scheduler_config\.json: using the default σ range \(sigma_max 1348, snr 0\.15\); if it was trained with another, pass --sigma-max\n$/,
    );
    const png = decodePNG(readFileSync(join(out, 'inpaint-pc-2-s0.png')));
    assert.deepEqual(png.data.subarray(512 * 3), card.data.subarray(512 * 3));
    assert.notDeepEqual(png.data.subarray(0, 512 * 3), card.data.subarray(0, 512 * 3));
  });

  it('colorize writes what the library gives for the same seed', async () => {
    const out = join(dir, 'colorize');
    const r = await run([
      'colorize',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--image',
      join(dir, 'card.png'),
      '--steps',
      '2',
      '--seed',
      '3',
      '--out',
      out,
      '-q',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pipe = await tinyNcsnpp();
    pipe.setProgressBarConfig({ disable: true });
    try {
      const { images } = await pipe.colorize({
        image: card,
        numInferenceSteps: 2,
        generator: new Generator().manualSeed(3),
      });
      assert.deepEqual(decodePNG(readFileSync(join(out, 'colorize-pc-2-s3.png'))).data, images[0].data);
    } finally {
      await pipe.release();
    }
  });

  it('names a missing or wrong-size input image', async () => {
    const missing = await run([
      'colorize',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--image',
      join(dir, 'nope.png'),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--image .*nope\.png: no such file/);
    writeFileSync(
      join(dir, 'small.png'),
      encodePNG({ width: 8, height: 8, channels: 3, data: new Uint8Array(192) }),
    );
    const small = await run([
      'colorize',
      '--model',
      fixture('models/tiny-ncsnpp'),
      '--image',
      join(dir, 'small.png'),
    ]);
    assert.equal(small.code, 1);
    assert.match(small.stderr, /image is 8×8, but the model generates 32×32 images/);
  });
});

describe('scoresde with a Hub id (loopback Hub)', () => {
  it('downloads once into the huggingface_hub cache layout, with a bar, then works offline', async () => {
    const hub = await startFakeHub();
    try {
      const hfHome = join(tmp, 'hub-home');
      const env = { HF_HOME: hfHome, HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '' };
      const out = join(tmp, 'hub-out');
      // Root-level layout with .bin weights, like google/ncsnpp-celebahq-256; default scheduler config.
      const args = ['sample', '--model', 'test-org/tiny-root', '--steps', '2', '--out', out];
      const first = await run(args, env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /diffusion_pytorch_model\.bin: 100%\|██████████\| [\d.]+M\/[\d.]+M /);
      const snapshot = join(hfHome, 'hub', 'models--test-org--tiny-root', 'snapshots', COMMITS.root);
      for (const f of ['config.json', 'diffusion_pytorch_model.bin', 'scheduler_config.json']) {
        assert.ok(readFileSync(join(snapshot, f)).length > 0, f);
      }
      // diffusers: 2 steps, torch.manual_seed(0) (the same stream as Generator().manual_seed(0)).
      const ref = (await loadSafetensors(fixture('pipeline/tiny-ncsnpp_N2_b1_manualseed0.safetensors')))
        .tensors;
      const expected = numpyToPil(ref.get('images')! as never)[0];
      const png = decodePNG(readFileSync(join(out, 'sample-pc-2-s0.png')));
      const refFloat = ref.get('images')!.data as Float32Array;
      for (let k = 0; k < png.data.length; k++) {
        const tol = refFloat[k] === 0 || refFloat[k] === 1 ? 0 : 1;
        assert.ok(Math.abs(png.data[k] - expected.data[k]) <= tol, `byte ${k}`);
      }

      const requests = hub.requests.length;
      const offline = await run([...args, '--local-files-only', '--seed', '1'], {
        ...env,
        HF_ENDPOINT: 'http://127.0.0.1:9',
      });
      assert.equal(offline.code, 0, offline.stderr);
      assert.equal(hub.requests.length, requests, 'no request once cached');

      const unknown = await run(['sample', '--model', 'test-org/no-such-repo', '--steps', '2'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /cannot load model "test-org\/no-such-repo": .*test-org\/no-such-repo/);
      assert.doesNotMatch(unknown.stderr, /\n\s+at /);
    } finally {
      await hub.close();
    }
  });

  it('says so when the Hub cannot be reached and nothing is cached', async () => {
    const r = await run(['info', '--model', 'test-org/tiny-root', '--no-timing'], {
      HF_HOME: join(tmp, 'unreachable-home'),
      HF_ENDPOINT: 'http://127.0.0.1:9',
      HF_HUB_OFFLINE: '',
    });
    assert.equal(r.code, 1);
    // Short, one line; the library's detail behind SCORESDE_DEBUG=1.
    assert.match(
      r.stderr,
      /^scoresde: cannot load model "test-org\/tiny-root": cannot reach the Hub \(127\.0\.0\.1:9\) and it is not cached; check the network or HF_ENDPOINT \(details: SCORESDE_DEBUG=1\)\n$/,
    );
    assert.ok(r.stderr.length < 200, r.stderr);
    const debug = await run(['info', '--model', 'test-org/tiny-root', '--no-timing'], {
      HF_HOME: join(tmp, 'unreachable-home'),
      HF_ENDPOINT: 'http://127.0.0.1:9',
      HF_HUB_OFFLINE: '',
      SCORESDE_DEBUG: '1',
    });
    assert.equal(debug.code, 1);
    assert.match(
      debug.stderr,
      /Could not reach the Hub at http:\/\/127\.0\.0\.1:9 for "model_index\.json"|Could not reach the Hub at http:\/\/127\.0\.0\.1:9/,
    );
  });
});
