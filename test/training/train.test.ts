/**
 * The training loop end to end on a tiny model and tiny images: checkpoints and logs, resuming bit for bit,
 * and a real `scoresde train` process killed with SIGKILL while it checkpoints, then resumed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ImageDataset } from '../../src/data/types.js';
import { decodePNG } from '../../src/io/index.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { train, warmupWarning } from '../../src/training/train.js';
import { loadTrainingState, STATE_DIR, trainingStateStep } from '../../src/training/training-state.js';
import { flagArgs, MICRO_CONFIG, writeStripeImages } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-train-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
// 10 images, batch 2: 5 batches an epoch, so 6 steps cross an epoch boundary and a resume at 3 is mid-epoch.
const data = writeStripeImages(join(tmp, 'images'), 10);
const configFile = join(tmp, 'micro.json');
const STEPS = 6;
const common = {
  config: { ...MICRO_CONFIG },
  data,
  batchSize: 2,
  lr: 2e-3,
  warmup: 2,
  flip: true,
  seed: 3,
  sigmaMax: 40,
};

/** What must be identical between two runs: the published weights, the whole training state, the log minus times. */
function runFingerprint(dir: string): Record<string, string> {
  const root = join(dir, STATE_DIR);
  const current = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')).current as string;
  const log = readFileSync(join(dir, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { seconds, ...rest } = JSON.parse(l);
      assert.ok(seconds > 0);
      return JSON.stringify(rest);
    });
  const hex = (p: string) => readFileSync(p).toString('base64');
  // The output cadence (checkpoint / sample-grid intervals) is saved too but does not decide the trajectory.
  const info = JSON.parse(readFileSync(join(root, current, 'state.json'), 'utf8'));
  delete info.options.cadence;
  return {
    unet: hex(join(dir, 'unet/diffusion_pytorch_model.safetensors')),
    tensors: hex(join(root, current, 'state.safetensors')),
    info: JSON.stringify(info),
    log: log.join('\n'),
  };
}

describe('train()', () => {
  const full = join(tmp, 'full');

  it('trains, logs every step, checkpoints, and publishes a loadable pipeline folder', async () => {
    const steps: number[] = [];
    const checkpoints: number[] = [];
    const result = await train({
      ...common,
      out: full,
      steps: STEPS,
      checkpointEvery: 4,
      sampleEvery: 3,
      sampleCount: 4,
      sampleSteps: 3,
      onStep: (s) => {
        steps.push(s.step);
        assert.ok(Number.isFinite(s.loss) && s.loss > 0 && s.gradNorm > 0);
      },
      onCheckpoint: (k) => checkpoints.push(k),
    });
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(checkpoints, [4, 6]);
    assert.equal(result.step, STEPS);
    assert.equal(result.interrupted, false);
    assert.deepEqual(readdirSync(join(full, 'samples')).sort(), ['step-3.png', 'step-6.png']);
    assert.deepEqual(result.samples, [join(full, 'samples/step-3.png'), join(full, 'samples/step-6.png')]);
    assert.equal(result.startStep, 0);
    // A 1-channel model's grid is a gray PNG (2 × 2 images of 8 × 8), not gray repeated into RGB.
    const grid = decodePNG(readFileSync(join(full, 'samples/step-6.png')));
    assert.deepEqual([grid.channels, grid.width, grid.height], [1, 16, 16]);
    const log = readFileSync(join(full, 'train_log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      log.map((r) => r.lr),
      [0, 1e-3, 2e-3, 2e-3, 2e-3, 2e-3],
    );
    assert.deepEqual(Object.keys(log[0]), ['step', 'loss', 'lr', 'grad_norm', 'seconds']);
    const pipe = await ScoreSdeVePipeline.fromPretrained(full);
    try {
      assert.equal(pipe.scheduler.config.sigma_max, 40);
      // The published weights are the EMA, not the raw weights.
      const state = await loadTrainingState(full);
      const k = 'conv_in.weight';
      assert.deepEqual(pipe.unet.stateDict().get(k)!.data, state.ema.get(k));
      assert.notDeepEqual(state.ema.get(k), state.params.get(k));
    } finally {
      await pipe.release();
    }
  });

  it('N steps in one run = N/2, then --resume to N: identical weights, state and log', async () => {
    const split = join(tmp, 'split');
    await train({ ...common, out: split, steps: STEPS / 2 });
    assert.equal(await trainingStateStep(split), STEPS / 2);
    await assert.rejects(
      train({ ...common, out: split, steps: STEPS }),
      /already holds a training run .* pass resume to continue it, or choose another out/,
    );
    await assert.rejects(
      train({ out: split, steps: STEPS, resume: true, lr: 1e-2 }),
      /lr 0\.01 differs from the resumed run's 0\.002/,
    );
    const r = await train({ out: split, steps: STEPS, resume: true });
    assert.equal(r.step, STEPS);
    assert.equal(r.startStep, STEPS / 2);
    assert.deepEqual(runFingerprint(split), runFingerprint(full));
  });

  it("--resume keeps the run's checkpoint and sample cadence unless given again", async () => {
    const out = join(tmp, 'cadence');
    const cadence = { checkpointEvery: 1, sampleEvery: 2, sampleCount: 2, sampleSteps: 2, diagnoseEvery: 0 };
    await train({ ...common, out, steps: 2, ...cadence });
    const checkpoints: number[] = [];
    const starts: unknown[] = [];
    const r = await train({
      out,
      steps: 4,
      resume: true,
      onStart: (info) => starts.push(info),
      onCheckpoint: (k) => checkpoints.push(k),
    });
    assert.deepEqual(starts, [{ startStep: 2, totalSteps: 4, resumed: true, cadence, dims: 64 }]);
    assert.deepEqual(checkpoints, [3, 4]);
    assert.deepEqual(r.samples, [join(out, 'samples/step-4.png')]);
    assert.equal(decodePNG(readFileSync(r.samples[0])).width, 8 * 2, 'sampleCount 2: a 1 × 2 grid');
    // A flag given on resume replaces the saved value, and is saved in turn.
    await train({
      out,
      steps: 6,
      resume: true,
      checkpointEvery: 2,
      onCheckpoint: (k) => checkpoints.push(k),
    });
    assert.deepEqual(checkpoints, [3, 4, 6]);
    assert.deepEqual((await loadTrainingState(out)).info.options.cadence, { ...cadence, checkpointEvery: 2 });
  });

  it('warns when the warmup is longer than the run, with the learning rate it reaches', async () => {
    // lr_k = lr·k/warmup at the last step k = steps − 1: 2e-4·299/5000 = 1.196e-5.
    assert.equal(
      warmupWarning(5000, 2e-4, 300),
      'warmup 5000 is longer than the run (300 steps): the learning rate only reaches 1.2e-5 (6.0 % of lr 0.0002) at the last step, so the model learns little; use a warmup of at most about a tenth of the steps (--warmup 30)',
    );
    assert.equal(warmupWarning(300, 2e-4, 300), undefined);
    assert.equal(warmupWarning(0, 2e-4, 300), undefined);
    const warnings: string[] = [];
    await train({
      ...common,
      out: join(tmp, 'warmup'),
      steps: 2,
      warmup: 4,
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(warnings, [warmupWarning(4, common.lr, 2)]);
    assert.match(warnings[0], /reaches 5\.0e-4 \(25 % of lr 0\.002\)/);
  });

  it('--init-from starts from a checkpoint: its (EMA) weights, its scheduler and its σ range', async () => {
    const out = join(tmp, 'finetune');
    // Warmup > 0: step 0 has lr 0, so after one step the raw weights are still the source's.
    const warnings: string[] = [];
    await train({
      initFrom: full,
      data,
      out,
      steps: 1,
      batchSize: 2,
      warmup: 10,
      onWarning: (m) => warnings.push(m),
    });
    assert.match(warnings.join('\n'), /^warmup 10 is longer than the run \(1 steps\)/);
    const state = await loadTrainingState(out);
    assert.equal(state.info.options.sigmaMax, 40, 'σ range from the source scheduler');
    const source = await ScoreSdeVePipeline.fromPretrained(full);
    try {
      for (const [k, t] of source.unet.stateDict())
        if (k !== 'time_proj.W') assert.deepEqual(state.params.get(k), t.data, k);
    } finally {
      await source.release();
    }
    await assert.rejects(
      train({ initFrom: full, config: 've-gray-32', data, out: join(tmp, 'x'), steps: 1 }),
      /not both/,
    );
  });

  it('an aborted run stops after the current step and checkpoints it', async () => {
    const out = join(tmp, 'aborted');
    const controller = new AbortController();
    const r = await train({
      ...common,
      out,
      steps: STEPS,
      checkpointEvery: 0,
      signal: controller.signal,
      onStep: (s) => {
        if (s.step === 2) controller.abort();
      },
    });
    assert.equal(r.interrupted, true);
    assert.equal(r.step, 2);
    assert.equal(await trainingStateStep(out), 2);
  });
});

describe('learning', () => {
  it('the loss falls on a tiny problem (8 striped 8×8 images, 40 steps): last 10 steps ≤ 0.6 × first 10', async () => {
    // An in-memory dataset: train() takes any ImageDataset.
    const stripes: ImageDataset = {
      source: 'stripes',
      length: 8,
      channels: 1,
      height: 8,
      width: 8,
      async read(i, out, offset = 0) {
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) out[offset + y * 8 + x] = (x + y + i) % 4 < 2 ? 0.9 : 0.1;
      },
    };
    const losses: number[] = [];
    await train({
      config: { ...MICRO_CONFIG },
      data: stripes,
      out: join(tmp, 'learning'),
      steps: 40,
      batchSize: 8,
      lr: 3e-3,
      warmup: 0,
      checkpointEvery: 0,
      onStep: (s) => losses.push(s.loss),
    });
    const mean = (a: number[]) => a.reduce((p, c) => p + c, 0) / a.length;
    const first = mean(losses.slice(0, 10));
    const last = mean(losses.slice(-10));
    assert.ok(last <= 0.6 * first, `mean loss of the first 10 steps ${first}, of the last 10 ${last}`);
  });
});

describe('scoresde train process', () => {
  function start(args: string[]): ChildProcess {
    return spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'train', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  const exited = (child: ChildProcess) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
      let stderr = '';
      child.stderr!.on('data', (d) => {
        stderr += d;
      });
      child.stdout!.resume();
      child.on('close', (code, signal) => resolve({ code, signal, stderr }));
    });

  it('Ctrl-C (SIGINT) finishes the step, writes a checkpoint and exits with 130', async () => {
    writeFileSync(configFile, JSON.stringify(MICRO_CONFIG));
    const out = join(tmp, 'sigint');
    const child = start(
      flagArgs({ config: configFile, data, out, steps: 1000, 'batch-size': 2, 'checkpoint-every': 0 }),
    );
    const done = exited(child);
    while (
      !existsSync(join(out, 'train_log.jsonl')) ||
      readFileSync(join(out, 'train_log.jsonl'), 'utf8').split('\n').length < 3
    ) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    const step = (await trainingStateStep(out))!;
    assert.ok(step >= 2 && step < 1000, `checkpoint at ${step}`);
    assert.match(
      r.stderr,
      new RegExp(`interrupted at step ${step}; checkpoint written to .* \\(continue with --resume\\)`),
    );
    const logged = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n');
    assert.equal(JSON.parse(logged.at(-1)!).step, step);
  });

  it('SIGKILL while checkpointing every step leaves a loadable checkpoint; resuming ends bit-identical', async () => {
    writeFileSync(configFile, JSON.stringify(MICRO_CONFIG));
    const out = join(tmp, 'killed');
    const args = flagArgs({
      config: configFile,
      data,
      out,
      steps: STEPS,
      'batch-size': 2,
      lr: '2e-3',
      warmup: 2,
      flip: true,
      seed: 3,
      'sigma-max': 40,
      'checkpoint-every': 1,
    });
    const killAt = [2, 4];
    for (const [i, target] of killAt.entries()) {
      const child = start(
        i === 0 ? args : ['--out', out, '--steps', String(STEPS), '--resume', '--checkpoint-every', '1'],
      );
      const done = exited(child);
      // Poll the committed step; kill as soon as the target checkpoint exists (the next one is then being written).
      while (
        (await trainingStateStep(out).catch(() => undefined)) === undefined ||
        (await trainingStateStep(out))! < target
      ) {
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      const r = await done;
      assert.ok(r.signal === 'SIGKILL', `run ${i} ended before the kill (code ${r.code}): ${r.stderr}`);
      const state = await loadTrainingState(out);
      assert.ok(
        state.info.step >= target && state.info.step < STEPS,
        `checkpoint at step ${state.info.step}`,
      );
      assert.ok(existsSync(join(out, 'unet/diffusion_pytorch_model.safetensors')));
    }
    // Without --steps a resumed run goes to its own total.
    const last = await exited(start(['--out', out, '--resume', '-q']));
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(runFingerprint(out), runFingerprint(join(tmp, 'full')));
  });
});
