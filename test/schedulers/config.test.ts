/**
 * Config handling: defaults and camelCase options, fromConfig / fromPretrained (warnings, errors) and saveConfig
 * writing byte for byte what diffusers v0.23.0's save_config writes (the real-configs fixtures were written by it).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, FileFormatError } from '../../src/errors.js';
import { pythonFloatRepr, ScoreSdeVeScheduler } from '../../src/schedulers/index.js';
import { captureProcessWarnings } from '../capture-warnings.js';
import { assertExact, FIXTURES } from './helpers.js';

const REAL = join(FIXTURES, 'models', 'real-configs');

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'scoresde-sched-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function manifestSummary(): Promise<Record<string, Record<string, unknown>>> {
  const text = await readFile(join(FIXTURES, 'scheduler', 'manifest.json'), 'utf-8');
  return JSON.parse(text).summary;
}

function collectWarnings(): { warnings: string[]; onWarning: (m: string) => void } {
  const warnings: string[] = [];
  return { warnings, onWarning: (m) => warnings.push(m) };
}

describe('ScoreSdeVeScheduler config', () => {
  it('defaults are diffusers v0.23.0 defaults, config is the snake_case dict', async () => {
    const summary = await manifestSummary();
    const { _use_default_values, ...defaults } = summary.default_config;
    assert.ok(Array.isArray(_use_default_values));
    const s = new ScoreSdeVeScheduler();
    assert.deepEqual({ ...s.config }, defaults);
    assert.equal(s.initNoiseSigma, summary.init_noise_sigma);
    assert.ok(Object.isFrozen(s.config));
  });

  it('camelCase options map to the diffusers keys', () => {
    const s = new ScoreSdeVeScheduler({
      numTrainTimesteps: 100,
      snr: 0.075,
      sigmaMin: 0.02,
      sigmaMax: 380,
      samplingEps: 1e-3,
      correctSteps: 2,
    });
    assert.deepEqual(
      { ...s.config },
      {
        num_train_timesteps: 100,
        snr: 0.075,
        sigma_min: 0.02,
        sigma_max: 380,
        sampling_eps: 1e-3,
        correct_steps: 2,
      },
    );
    assert.equal(s.initNoiseSigma, 380);
    assert.equal(s.timesteps.numel, 100);
    assert.equal(s.discreteSigmas.data[99], Math.fround(380));
  });

  it('toJsonString is what diffusers save_config writes (defaults = the ffhq-1024 hub scheduler config)', async () => {
    const summary = await manifestSummary();
    const text = new ScoreSdeVeScheduler().toJsonString();
    assert.deepEqual(JSON.parse(text), summary['scheduler_config.json']);
    const hub = await readFile(join(REAL, 'ncsnpp-ffhq-1024', 'scheduler', 'scheduler_config.json'), 'utf-8');
    assert.equal(text, hub);
  });

  for (const model of ['ncsnpp-celebahq-256', 'ncsnpp-ffhq-1024']) {
    it(`fromPretrained(${model}, { subfolder: 'scheduler' }) then saveConfig round-trips byte for byte`, async () => {
      const { warnings, onWarning } = collectWarnings();
      const s = await ScoreSdeVeScheduler.fromPretrained(join(REAL, model), {
        subfolder: 'scheduler',
        onWarning,
      });
      assert.deepEqual(warnings, []);
      const original = await readFile(join(REAL, model, 'scheduler', 'scheduler_config.json'), 'utf-8');
      const out = join(tmp, model);
      const written = await s.saveConfig(out);
      assert.equal(written, join(out, 'scheduler_config.json'));
      assert.equal(await readFile(written, 'utf-8'), original);
      const again = await ScoreSdeVeScheduler.fromPretrained(out);
      assert.deepEqual({ ...again.config }, { ...s.config });
    });
  }

  it('celebahq config: sigma_max 380, snr 0.075, tables follow', async () => {
    const s = await ScoreSdeVeScheduler.fromPretrained(join(REAL, 'ncsnpp-celebahq-256', 'scheduler'));
    assert.equal(s.config.sigma_max, 380);
    assert.equal(s.config.snr, 0.075);
    assert.equal(s.initNoiseSigma, 380);
    const direct = new ScoreSdeVeScheduler({ sigmaMax: 380, snr: 0.075 });
    assertExact(s.sigmas.data, direct.sigmas.data, 'same tables');
  });

  it('fromPretrained accepts the JSON file itself', async () => {
    const file = join(REAL, 'ncsnpp-celebahq-256', 'scheduler', 'scheduler_config.json');
    assert.equal((await ScoreSdeVeScheduler.fromPretrained(file)).config.sigma_max, 380);
  });

  it('fromConfig drops _-keys silently and warns once naming unknown keys', () => {
    const { warnings, onWarning } = collectWarnings();
    const s = ScoreSdeVeScheduler.fromConfig(
      {
        _class_name: 'ScoreSdeVeScheduler',
        _diffusers_version: '0.40.0',
        _use_default_values: ['snr'],
        snr: 0.2,
        tensor_format: 'pt',
        some_new_option: 3,
      },
      { file: 'x/scheduler_config.json', onWarning },
    );
    assert.equal(s.config.snr, 0.2);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /x\/scheduler_config\.json/);
    assert.match(warnings[0], /"tensor_format"/);
    assert.match(warnings[0], /"some_new_option"/);
    assert.doesNotMatch(warnings[0], /_diffusers_version|_use_default_values/);
  });

  it('fromConfig warns when _class_name names another class, and rejects a non-string one', () => {
    const { warnings, onWarning } = collectWarnings();
    const s = ScoreSdeVeScheduler.fromConfig({ _class_name: 'DDPMScheduler', sigma_max: 50 }, { onWarning });
    assert.equal(s.config.sigma_max, 50);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /DDPMScheduler/);
    assert.throws(() => ScoreSdeVeScheduler.fromConfig({ _class_name: 3 }), ConfigError);
  });

  it('without onWarning the warning goes to process.emitWarning', async () => {
    const { warnings } = await captureProcessWarnings(() => ScoreSdeVeScheduler.fromConfig({ bogus_key: 1 }));
    assert.deepEqual(
      warnings.map((w) => [w.name, w.code]),
      [['ConfigWarning', 'SCORESDE_UNKNOWN_CONFIG_KEYS']],
    );
    assert.match(warnings[0].message, /"bogus_key" are not expected by ScoreSdeVeScheduler/);
  });

  it('bad config values give a ConfigError naming the file and the key', () => {
    const file = 'model/scheduler/scheduler_config.json';
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ sigma_min: -1 }, /sigma_min.*> 0/],
      [{ sigma_max: 'big' }, /sigma_max must be a number/],
      [{ sigma_max: null }, /sigma_max must be a number/],
      [{ num_train_timesteps: 0 }, /num_train_timesteps.*integer in \[1, 1000000\]/],
      [{ num_train_timesteps: 1e12 }, /num_train_timesteps.*integer in \[1, 1000000\]/],
      [{ num_train_timesteps: 2.5 }, /num_train_timesteps/],
      [{ correct_steps: -1 }, /correct_steps/],
      [{ snr: -0.1 }, /snr/],
      [{ sampling_eps: 1.5 }, /sampling_eps/],
      [{ sigma_min: 10, sigma_max: 1 }, /sigma_min \(10\) must not exceed sigma_max \(1\)/],
    ];
    for (const [config, pattern] of bad) {
      assert.throws(
        () => ScoreSdeVeScheduler.fromConfig(config, { file }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(file) && pattern.test(e.message),
        JSON.stringify(config),
      );
    }
    assert.throws(() => ScoreSdeVeScheduler.fromConfig([] as unknown as Record<string, unknown>), TypeError);
  });

  it('bad constructor options give a ConfigError naming both spellings', () => {
    assert.throws(
      () => new ScoreSdeVeScheduler({ sigmaMax: Number.NaN }),
      /sigma_max \(sigmaMax\) must be a finite number, got NaN/,
    );
    assert.throws(() => new ScoreSdeVeScheduler({ sigmaMin: 0 }), /sigma_min \(sigmaMin\) must be > 0/);
    assert.throws(() => new ScoreSdeVeScheduler({ numTrainTimesteps: -5 }), ConfigError);
  });

  it('fromPretrained: a missing or malformed file is a FileFormatError naming it', async () => {
    await assert.rejects(ScoreSdeVeScheduler.fromPretrained(join(tmp, 'nope')), (e: unknown) => {
      return e instanceof FileFormatError && e.message.includes(join(tmp, 'nope', 'scheduler_config.json'));
    });
    const dir = join(tmp, 'broken');
    await ScoreSdeVeScheduler.prototype.saveConfig.call(new ScoreSdeVeScheduler(), dir);
    await writeFile(join(dir, 'scheduler_config.json'), '{"snr": 0.1,');
    await assert.rejects(ScoreSdeVeScheduler.fromPretrained(dir), FileFormatError);
  });

  it('saveConfig refuses a path that is a file', async () => {
    const file = join(tmp, 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(new ScoreSdeVeScheduler().saveConfig(file), /is a file, expected a directory/);
  });
});

describe('pythonFloatRepr', () => {
  it("formats like Python's repr(float) / json.dumps", () => {
    const cases: [number, string][] = [
      [1348, '1348.0'],
      [1e-5, '1e-05'],
      [0.01, '0.01'],
      [0.15, '0.15'],
      [0.0001, '0.0001'],
      [1.5e-7, '1.5e-07'],
      [1e16, '1e+16'],
      [1234567890123456.8, '1234567890123456.8'],
      [1.2345678901234568e17, '1.2345678901234568e+17'],
      [-0.5, '-0.5'],
      [0, '0.0'],
      [1e-300, '1e-300'],
      [123.456, '123.456'],
    ];
    for (const [x, want] of cases) assert.equal(pythonFloatRepr(x), want, String(x));
  });
});
