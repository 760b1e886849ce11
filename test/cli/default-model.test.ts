/**
 * `scoresde sample` with no --model: the bundled Fashion-MNIST model (models/fashion-mnist), offline, with its
 * own sampler, steps and count. The same run spelled out in flags must give the same bytes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runLabel } from '../../src/cli/sample.js';
import { decodePNG } from '../../src/io/index.js';
import { DEFAULT_MODEL } from '../../src/pipelines/default-model.js';
import { ScoreSdeVePipeline } from '../../src/pipelines/index.js';
import { Generator } from '../../src/random/index.js';
import {
  runSampler,
  SAMPLER_OPTION_TABLE,
  type SamplerOptionName,
  type ScoreFn,
} from '../../src/samplers/index.js';
import { schedulerSamplerSettings } from '../../src/samplers/ve-scheduler.js';
import { Tensor } from '../../src/tensor.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'scoresde-default-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI offline, with no Hugging Face cache to fall back on. */
function cli(args: string[], cwd = repoRoot) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HF_|HUGGING)/.test(k)));
  // tsx resolved here, so that the CLI can run in any folder.
  const tsx = import.meta.resolve('tsx');
  return spawnSync(process.execPath, ['--import', tsx, join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd,
    env: { ...env, HF_HOME: join(tmp, 'hf'), HF_HUB_OFFLINE: '1' },
    encoding: 'utf8',
  });
}

describe('scoresde sample without --model', () => {
  it('samples the bundled model offline into ./samples: its count of gray 28×28 images and a grid', () => {
    // No --out: a folder of its own in the current folder, named on stderr.
    const cwd = join(tmp, 'cwd');
    mkdirSync(cwd);
    const r = cli(['sample'], cwd);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(cwd), ['samples']);
    const bundled = join(cwd, 'samples');
    const { count, sampler, steps, options } = DEFAULT_MODEL;
    const label = runLabel(sampler, steps, options);
    assert.ok(
      r.stderr.endsWith(
        `\nscoresde: ${count} image(s) written to ${bundled}, with the grid sample-${label}-s0-s${count - 1}-grid.png\n`,
      ),
      r.stderr,
    );
    const files = readdirSync(bundled).sort();
    assert.equal(files.length, count + 1);
    assert.ok(files.includes(`sample-${label}-s0-s${count - 1}-grid.png`), files.join(' '));
    const image = decodePNG(readFileSync(join(bundled, `sample-${label}-s0.png`)), 'img');
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
      assert.deepEqual(readFileSync(join(tmp, 'spelled', f)), readFileSync(join(bundled, f)), f);
  });

  it('info and --list-samplers describe what sample runs on the bundled model', async () => {
    const { sampler, steps, options } = DEFAULT_MODEL;
    // The network calls its sampling makes: counted where the network is called, under the model's own options
    // (heun: a second-order correction on every step but the last; above a Gaussian switch, none).
    const pipe = await ScoreSdeVePipeline.fromPretrained(DEFAULT_MODEL.dir);
    let calls = 0;
    try {
      const network: ScoreFn = async (x) => {
        calls++;
        return new Tensor('float32', new Float32Array(x.data.length), x.dims);
      };
      await runSampler(
        sampler,
        network,
        {
          ...schedulerSamplerSettings(pipe.scheduler.config),
          shape: [1, 1, 28, 28],
          steps,
          ...options,
          gaussian: pipe.gaussian,
        },
        { generator: new Generator().manualSeed(0) },
      );
    } finally {
      await pipe.release();
    }
    assert.ok(calls > 0 && calls <= 2 * steps - 1);
    const opts = Object.entries(options)
      .map(([k, v]) => `, ${k} ${v}`)
      .join('');
    const info = cli(['info', '--no-timing']);
    assert.equal(info.status, 0, info.stderr);
    assert.match(
      info.stdout,
      new RegExp(`^sample runs +${sampler}, ${steps} steps${opts}: ${calls} UNet calls per image$`, 'm'),
    );
    // The same sampler named explicitly keeps the bundled model's settings (what the list promises).
    const named = cli(['info', '--no-timing', '--sampler', sampler]);
    assert.match(named.stdout, new RegExp(`^sample runs +${sampler}, ${steps} steps${opts}: `, 'm'));
    // info takes sample's sampler flags: the Gaussian switch off, every step calls the network; on, fewer do.
    const callsOf = (args: string[]) => {
      const r = cli(['info', '--no-timing', '--sampler', 'dpmpp-2m', '--steps', '20', ...args]);
      assert.equal(r.status, 0, r.stderr);
      return Number(/: (\d+) UNet calls per image$/m.exec(r.stdout)?.[1]);
    };
    assert.equal(callsOf(['--gaussian-above', 'off']), 20);
    const switched = callsOf(['--gaussian-above', '10']);
    assert.ok(switched > 0 && switched < 20, `${switched} calls`);
    const list = cli(['sample', '--list-samplers']);
    assert.equal(list.status, 0, list.stderr);
    const listed = Object.entries(options)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    assert.match(
      list.stdout,
      new RegExp(`^${sampler} +${steps} steps .*\\[default here: ${listed}\\]$`, 'm'),
    );
    // The bundled model's options that every sampler takes (its Gaussian corrections) are listed for each.
    for (const name of ['pc', 'ode', 'dpmpp-2m'])
      if (options.gaussianNormAbove !== undefined)
        assert.match(
          list.stdout,
          new RegExp(`^${name} .*\\[gaussianNormAbove ${options.gaussianNormAbove}`, 'm'),
        );
    for (const name of Object.keys(DEFAULT_MODEL.notAdvised))
      assert.match(list.stdout, new RegExp(`^${name} .*\\[not advised here: about a third`, 'm'));
    // With a --model, diffusers' loop and the samplers' own defaults.
    const other = cli(['info', '--no-timing', '--model', DEFAULT_MODEL.dir]);
    assert.match(
      other.stdout,
      /^sample runs +diffusers' loop \(pc\), 2000 steps: 4000 UNet calls per image$/m,
    );
  });
});
