import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, FileFormatError } from '../../src/errors.js';
import { resolveModelLayout } from '../../src/pipelines/layout.js';

const root = mkdtempSync(join(tmpdir(), 'scoresde-layout-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A folder holding the given files (contents '{}' unless given). */
function folder(name: string, files: Record<string, string> | string[]): string {
  const dir = join(root, name);
  const entries = Array.isArray(files) ? files.map((f) => [f, '{}']) : Object.entries(files);
  for (const [file, text] of entries) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

const MODEL_INDEX = JSON.stringify({
  _class_name: 'ScoreSdeVePipeline',
  scheduler: ['diffusers', 'ScoreSdeVeScheduler'],
  unet: ['diffusers', 'UNet2DModel'],
});

describe('resolveModelLayout', () => {
  it('finds a diffusers pipeline folder', () => {
    const dir = folder('pipe', {
      'model_index.json': MODEL_INDEX,
      'unet/config.json': '{}',
      'scheduler/scheduler_config.json': '{}',
    });
    assert.deepEqual(resolveModelLayout(dir), {
      kind: 'pipeline',
      dir,
      unetSubfolder: 'unet',
      schedulerSubfolder: 'scheduler',
      hasSchedulerConfig: true,
    });
  });

  it('finds a root-level repo, even one that also carries model_index.json', () => {
    const dir = folder('root', {
      'model_index.json': MODEL_INDEX,
      'config.json': '{}',
      'scheduler_config.json': '{}',
    });
    assert.deepEqual(resolveModelLayout(dir), {
      kind: 'root',
      dir,
      schedulerSubfolder: undefined,
      hasSchedulerConfig: true,
    });
  });

  it('reports a missing scheduler config so the defaults are used', () => {
    const dir = folder('bare-unet', ['config.json']);
    assert.equal(resolveModelLayout(dir).hasSchedulerConfig, false);
    assert.equal(resolveModelLayout(dir).kind, 'root');
  });

  it('rejects folders of neither layout, naming the folder', () => {
    const dir = folder('empty', ['README.md']);
    assert.throws(
      () => resolveModelLayout(dir),
      (e: Error) =>
        e instanceof FileFormatError && e.message.startsWith(dir) && /unet\/config\.json/.test(e.message),
    );
  });

  it('rejects another pipeline class, naming model_index.json', () => {
    const dir = folder('ddpm', {
      'model_index.json': JSON.stringify({
        scheduler: ['diffusers', 'DDPMScheduler'],
        unet: ['diffusers', 'UNet2DModel'],
      }),
      'unet/config.json': '{}',
    });
    assert.throws(
      () => resolveModelLayout(dir),
      (e: Error) =>
        e instanceof ConfigError &&
        e.message.includes('model_index.json') &&
        e.message.includes('DDPMScheduler'),
    );
  });

  it('rejects a corrupt model_index.json and paths that are not folders', () => {
    const dir = folder('corrupt', { 'model_index.json': '{ nope', 'unet/config.json': '{}' });
    assert.throws(
      () => resolveModelLayout(dir),
      (e: Error) => e instanceof FileFormatError && /not valid JSON/.test(e.message),
    );
    assert.throws(
      () => resolveModelLayout(join(dir, 'model_index.json')),
      /is a file; expected a model folder/,
    );
    assert.throws(() => resolveModelLayout(join(root, 'missing')), /model folder not found/);
  });
});
