/**
 * `scoresde sample` with no --model: the bundled Fashion-MNIST model (models/fashion-mnist), offline, with its
 * own sampler, steps and count. The same run spelled out in flags must give the same bytes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runLabel } from '../../src/cli/sample.js';
import { decodePNG } from '../../src/io/index.js';
import { DEFAULT_MODEL } from '../../src/pipelines/default-model.js';
import { SAMPLER_OPTION_TABLE, type SamplerOptionName } from '../../src/samplers/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-default-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI offline, with no Hugging Face cache to fall back on. */
function cli(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HF_|HUGGING)/.test(k)));
  return spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    env: { ...env, HF_HOME: join(tmp, 'hf'), HF_HUB_OFFLINE: '1' },
    encoding: 'utf8',
  });
}

describe('scoresde sample without --model', () => {
  it('samples the bundled model offline: its count of gray 28×28 images and a grid', () => {
    const r = cli(['sample', '--out', join(tmp, 'bundled'), '-q']);
    assert.equal(r.status, 0, r.stderr);
    const { count, sampler, steps, options } = DEFAULT_MODEL;
    const label = runLabel(sampler, steps, options);
    const files = readdirSync(join(tmp, 'bundled')).sort();
    assert.equal(files.length, count + 1);
    assert.ok(files.includes(`sample-${label}-s0-s${count - 1}-grid.png`), files.join(' '));
    const image = decodePNG(readFileSync(join(tmp, 'bundled', `sample-${label}-s0.png`)), 'img');
    assert.deepEqual([image.width, image.height, image.channels], [28, 28, 1]);
    // Not a constant image: the model produced structure.
    assert.ok(new Set(image.data).size > 8);

    const spelled = cli([
      'sample',
      '--model',
      DEFAULT_MODEL.dir,
      '--sampler',
      sampler,
      '--steps',
      String(steps),
      // The default's sampler options, spelled as their flags (every one has a flag).
      ...Object.entries(options).flatMap(([name, value]) => [
        `--${SAMPLER_OPTION_TABLE[name as SamplerOptionName].cli!.flag}`,
        String(value),
      ]),
      '--count',
      String(count),
      '--batch-size',
      String(count),
      '--out',
      join(tmp, 'spelled'),
      '-q',
    ]);
    assert.equal(spelled.status, 0, spelled.stderr);
    for (const f of files)
      assert.deepEqual(readFileSync(join(tmp, 'spelled', f)), readFileSync(join(tmp, 'bundled', f)), f);
  });
});
