/** Loading layouts (pipeline folder, root-level repo, Hub cache), savePretrained round trips, call arguments. */
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
import { LocalEntryNotFoundError } from '../../src/io/index.js';
import {
  DEFAULT_SCHEDULER_WARNING,
  type PipelineStep,
  ScoreSdeVePipeline,
} from '../../src/pipelines/index.js';
import { Generator, manualSeed } from '../../src/random/index.js';
import { ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import type { Tensor } from '../../src/tensor.js';
import { captureProcessWarnings } from '../capture-warnings.js';
import { assertRel, fixturePath, fixturePipeline, loadRun } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'scoresde-pipe-'));
const opened: ScoreSdeVePipeline[] = [];
after(async () => {
  for (const p of opened) await p.release();
  rmSync(tmp, { recursive: true, force: true });
});

async function load(idOrDir: string, options = {}): Promise<ScoreSdeVePipeline> {
  const pipe = await ScoreSdeVePipeline.fromPretrained(idOrDir, { progress: false, ...options });
  pipe.setProgressBarConfig({ disable: true });
  opened.push(pipe);
  return pipe;
}

/** Two steps at seed 3: the final unclamped mean and every step's sample. */
async function twoSteps(pipe: ScoreSdeVePipeline): Promise<Tensor[]> {
  const seen: Tensor[] = [];
  await pipe.call({
    numInferenceSteps: 2,
    generator: new Generator().manualSeed(3),
    outputType: 'np',
    onStep: (s) => seen.push(s.sample, s.sampleMean),
  });
  return seen;
}

const assertSameTensors = (a: Tensor[], b: Tensor[]) => {
  assert.equal(a.length, b.length);
  for (const [i, t] of a.entries()) assert.deepEqual(t.data, b[i].data, `tensor ${i} differs`);
};

const MODEL_INDEX = `{
  "_class_name": "ScoreSdeVePipeline",
  "_diffusers_version": "0.23.0",
  "scheduler": [
    "diffusers",
    "ScoreSdeVeScheduler"
  ],
  "unet": [
    "diffusers",
    "UNet2DModel"
  ]
}
`;

describe('ScoreSdeVePipeline loading and saving', () => {
  let original: ScoreSdeVePipeline;
  let reference: Tensor[];
  const saved = join(tmp, 'saved');

  before(async () => {
    const base = await fixturePipeline('tiny-ncsnpp');
    opened.push(base);
    // A non-default scheduler, so the round trip has something to carry.
    const scheduler = ScoreSdeVeScheduler.fromConfig({ ...base.scheduler.config, snr: 0.2, sigma_max: 380 });
    original = new ScoreSdeVePipeline({ unet: base.unet, scheduler });
    original.setProgressBarConfig({ disable: true });
    reference = await twoSteps(original);
  });

  it('loads the fixture UNet folder with the default scheduler, as diffusers made the runs', async () => {
    const warned: string[] = [];
    const pipe = await load(fixturePath('models/tiny-ncsnpp'), { onWarning: (m: string) => warned.push(m) });
    assert.match(warned.join('\n'), /^.*tiny-ncsnpp: no scheduler_config\.json found/);
    assert.deepEqual(pipe.scheduler.config, new ScoreSdeVeScheduler().config);
    const ref = await loadRun('tiny-ncsnpp_N2_b1_manualseed0');
    const steps: PipelineStep[] = [];
    await pipe.call({
      numInferenceSteps: 2,
      generator: manualSeed(0),
      outputType: 'np',
      onStep: (s) => steps.push(s),
    });
    assertRel(steps[1].sampleMean, ref.get('final_prev_sample_mean_unclamped')!, 1e-5, 'final');
  });

  it('savePretrained writes the diffusers pipeline folder', async () => {
    await original.savePretrained(saved);
    assert.equal(readFileSync(join(saved, 'model_index.json'), 'utf8'), MODEL_INDEX);
    for (const f of [
      'unet/config.json',
      'unet/diffusion_pytorch_model.safetensors',
      'scheduler/scheduler_config.json',
    ]) {
      assert.ok(existsSync(join(saved, f)), `${f} missing`);
    }
    const schedulerConfig = JSON.parse(readFileSync(join(saved, 'scheduler/scheduler_config.json'), 'utf8'));
    assert.equal(schedulerConfig._class_name, 'ScoreSdeVeScheduler');
    assert.equal(schedulerConfig.snr, 0.2);
    assert.equal(schedulerConfig.sigma_max, 380);
    assert.equal(
      JSON.parse(readFileSync(join(saved, 'unet/config.json'), 'utf8'))._class_name,
      'UNet2DModel',
    );
  });

  it('a saved folder loads back to identical outputs', async () => {
    const pipe = await load(saved);
    assert.deepEqual(pipe.scheduler.config, original.scheduler.config);
    assertSameTensors(await twoSteps(pipe), reference);
  });

  it('loads a root-level repo (config.json, weights, scheduler_config.json at the root)', async () => {
    const root = join(tmp, 'root-level');
    mkdirSync(root);
    copyFileSync(join(saved, 'unet/config.json'), join(root, 'config.json'));
    copyFileSync(
      join(saved, 'unet/diffusion_pytorch_model.safetensors'),
      join(root, 'diffusion_pytorch_model.safetensors'),
    );
    copyFileSync(join(saved, 'scheduler/scheduler_config.json'), join(root, 'scheduler_config.json'));
    const pipe = await load(root);
    assert.equal(pipe.scheduler.config.snr, 0.2);
    assertSameTensors(await twoSteps(pipe), reference);
  });

  it('loads a Hub id from the huggingface_hub cache offline', async () => {
    const cacheDir = join(tmp, 'hub-cache');
    const commit = 'a'.repeat(40);
    const repo = join(cacheDir, 'models--test-org--tiny-ncsnpp');
    const snapshot = join(repo, 'snapshots', commit);
    for (const f of [
      'model_index.json',
      'unet/config.json',
      'unet/diffusion_pytorch_model.safetensors',
      'scheduler/scheduler_config.json',
    ]) {
      mkdirSync(join(snapshot, f, '..'), { recursive: true });
      copyFileSync(join(saved, f), join(snapshot, f));
    }
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), commit);
    const pipe = await load('test-org/tiny-ncsnpp', { cacheDir, localFilesOnly: true });
    assertSameTensors(await twoSteps(pipe), reference);

    await assert.rejects(load('test-org/not-cached', { cacheDir, localFilesOnly: true }), (e: Error) => {
      return e instanceof LocalEntryNotFoundError && e.message.includes('test-org/not-cached');
    });
  });

  it('says when a path is neither a folder nor a Hub id', async () => {
    await assert.rejects(
      load('./no/such/model'),
      /"\.\/no\/such\/model" is not an existing folder, nor a Hub repo id/,
    );
  });
});

describe('ScoreSdeVePipeline.call arguments, abort and progress', () => {
  let pipe: ScoreSdeVePipeline;
  before(async () => {
    pipe = await fixturePipeline('tiny-ncsnpp');
    opened.push(pipe);
  });

  it('rejects bad arguments with errors that name them', async () => {
    await assert.rejects(pipe.call({ batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    await assert.rejects(
      pipe.call({ numInferenceSteps: 2.5 }),
      /numInferenceSteps must be a positive integer/,
    );
    await assert.rejects(
      pipe.call({ batchSize: 2, generator: [new Generator()] }),
      /a list of 1 generators was given for batchSize 2/,
    );
    await assert.rejects(pipe.call({ outputType: 'pt' as 'np' }), /outputType must be 'pil' or 'np'/);
  });

  it('stops between UNet calls with an AbortError', async () => {
    const controller = new AbortController();
    let steps = 0;
    await assert.rejects(
      pipe.call({
        numInferenceSteps: 5,
        generator: new Generator().manualSeed(0),
        signal: controller.signal,
        onStep: () => {
          steps++;
          controller.abort();
        },
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(steps, 1);
    await assert.rejects(pipe.call({ signal: AbortSignal.abort() }), (e: Error) => e.name === 'AbortError');
  });

  it('draws a tqdm-style bar unless disabled', async () => {
    const chunks: string[] = [];
    const stream = { isTTY: false, write: (s: string) => chunks.push(s) };
    pipe.setProgressBarConfig({ disable: false, stream });
    try {
      await pipe.call({ numInferenceSteps: 2, generator: new Generator().manualSeed(0), outputType: 'np' });
    } finally {
      pipe.setProgressBarConfig({ disable: true });
    }
    assert.match(chunks.at(-1)!, /^100%\|██████████\| 2\/2 \[\d\d:\d\d<00:00, +[\d.]+(it\/s|s\/it)\]\n$/);
    const before = chunks.length;
    await pipe.call({ numInferenceSteps: 2, generator: new Generator().manualSeed(0), outputType: 'np' });
    assert.equal(chunks.length, before);
  });
});

describe('ScoreSdeVePipeline.fromPretrained without a scheduler config', () => {
  it('warns (code SCORESDE_DEFAULT_SCHEDULER) and uses the scheduler defaults', async () => {
    const { value: pipe, warnings } = await captureProcessWarnings(() =>
      load(fixturePath('models/tiny-ncsnpp')),
    );
    assert.deepEqual(
      warnings.map((w) => w.code),
      ['SCORESDE_DEFAULT_SCHEDULER'],
    );
    assert.match(warnings[0].message, /tiny-ncsnpp: no scheduler_config\.json found/);
    assert.equal(pipe.scheduler.config.sigma_max, 1348);
  });

  it('passes the warning to onWarning, with its code, instead', async () => {
    const got: [string, string | undefined][] = [];
    const { warnings } = await captureProcessWarnings(() =>
      load(fixturePath('models/tiny-ncsnpp'), {
        onWarning: (m: string, code?: string) => got.push([m, code]),
      }),
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(
      got.map(([, code]) => code),
      [DEFAULT_SCHEDULER_WARNING],
    );
  });
});
