import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '../../src/errors.js';
import { checkConfigKeys, readJsonConfig, UNKNOWN_CONFIG_KEYS_WARNING } from '../../src/io/config.js';
import { captureProcessWarnings } from '../capture-warnings.js';
import { withTempDir } from './builders.js';

const NCSNPP_CONFIG = fileURLToPath(new URL('../fixtures/models/tiny-ncsnpp/config.json', import.meta.url));

describe('readJsonConfig', () => {
  it('reads a diffusers config.json', async () => {
    const config = await readJsonConfig(NCSNPP_CONFIG);
    assert.equal(config._class_name, 'UNet2DModel');
    assert.deepEqual(config.block_out_channels, [32, 32, 32, 32]);
    assert.equal(config.norm_eps, 1e-6);
    assert.equal(config.norm_num_groups, null);
    assert.equal(config.time_embedding_type, 'fourier');
  });

  it('names the file for missing files, invalid JSON and non-objects', async () => {
    await withTempDir(async (dir) => {
      const check = async (name: string, content: string | undefined, pattern: RegExp) => {
        const path = join(dir, name);
        if (content !== undefined) await writeFile(path, content);
        await assert.rejects(readJsonConfig(path), (e: Error) => {
          assert.ok(e instanceof FileFormatError);
          assert.ok(e.message.startsWith(`${path}: `), e.message);
          assert.match(e.message, pattern);
          return true;
        });
      };
      await check('missing.json', undefined, /config file not found/);
      await check('bad.json', '{"a": 1,}', /invalid JSON in config/);
      await check('nan.json', '{"a": NaN}', /invalid JSON in config/);
      await check('array.json', '[1, 2]', /config must be a JSON object, got an array/);
      await check('null.json', 'null', /got null/);
      await check('number.json', '3', /got number/);
      await assert.rejects(
        readJsonConfig(dir),
        (e: Error) => e instanceof FileFormatError && /: is a folder, not a file$/.test(e.message),
      );
    });
  });
});

describe('checkConfigKeys', () => {
  it('keeps known keys, drops private ones silently and warns once about unknown ones', () => {
    const warnings: [string, string[]][] = [];
    const out = checkConfigKeys(
      {
        _class_name: 'UNet2DModel',
        _diffusers_version: '0.23.0',
        sample_size: 32,
        act_fn: 'silu',
        future_key: 1,
        other: null,
      },
      ['sample_size', 'act_fn', 'in_channels'],
      { what: 'UNet2DModel', file: 'unet/config.json', onWarning: (m, keys) => warnings.push([m, keys]) },
    );
    assert.deepEqual(out, { sample_size: 32, act_fn: 'silu' });
    assert.deepEqual(warnings, [
      [
        'unet/config.json: config attributes "future_key", "other" are not expected by UNet2DModel and will be ignored',
        ['future_key', 'other'],
      ],
    ]);
  });

  it('emits a process warning with a code when no callback is given, and none when all keys are known', async () => {
    const { warnings: seen } = await captureProcessWarnings(() => {
      checkConfigKeys({ a: 1, b: 2 }, ['a'], { what: 'ScoreSdeVeScheduler' });
      checkConfigKeys({ a: 1, _x: 2 }, ['a'], { what: 'ScoreSdeVeScheduler' });
    });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].code, UNKNOWN_CONFIG_KEYS_WARNING);
    assert.equal(seen[0].name, 'ConfigWarning');
    assert.equal(
      seen[0].message,
      'config attributes "b" are not expected by ScoreSdeVeScheduler and will be ignored',
    );
  });

  it('rejects a config that is not a plain object', () => {
    assert.throws(() => checkConfigKeys([] as never, [], { what: 'X' }), TypeError);
    assert.throws(
      () => checkConfigKeys(null as never, [], { what: 'X' }),
      /config for X must be a plain object/,
    );
  });
});
