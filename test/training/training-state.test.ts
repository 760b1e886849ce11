/** The training state's on-disk format: round trip, the manifest as the commit point, damage detection. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  loadTrainingState,
  STATE_DIR,
  saveTrainingState,
  type TrainingState,
  trainingStateStep,
} from '../../src/training/training-state.js';

const tmp = mkdtempSync(join(tmpdir(), 'scoresde-state-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function makeState(step: number): TrainingState {
  const f = (n: number, v: number) => Float32Array.from({ length: n }, (_, i) => v + i / 7);
  const shapes = new Map<string, readonly number[]>([
    ['w', [2, 3]],
    ['frozen', [4]],
  ]);
  return {
    info: {
      step,
      trainedKeys: ['w'],
      unetConfig: { sample_size: 8 },
      options: { lr: 1e-3 },
      generator: { seed: '1', mt: [1, 2], index: 3, cachedNormal: null },
      loader: { pos: step },
      adamSteps: step,
      emaUpdates: step,
      data: { source: '/data', length: 10 },
    },
    params: new Map([
      ['w', f(6, step)],
      ['frozen', f(4, -1)],
    ]),
    ema: new Map([['w', f(6, step + 0.5)]]),
    adamM: new Map([['w', f(6, 0.25)]]),
    adamV: new Map([['w', f(6, 0.125)]]),
    shapes,
  };
}

test('a saved state loads back identically', async () => {
  const dir = join(tmp, 'roundtrip');
  assert.equal(await trainingStateStep(dir), undefined);
  const s = makeState(3);
  await saveTrainingState(dir, s);
  assert.equal(await trainingStateStep(dir), 3);
  const back = await loadTrainingState(dir);
  assert.deepEqual(back.info, s.info);
  for (const key of ['params', 'ema', 'adamM', 'adamV'] as const) assert.deepEqual(back[key], s[key], key);
  assert.deepEqual(back.shapes, s.shapes);
});

test('the manifest decides: a newer checkpoint replaces the older folder, a half-written one is ignored', async () => {
  const dir = join(tmp, 'commit');
  await saveTrainingState(dir, makeState(1));
  await saveTrainingState(dir, makeState(2));
  const root = join(dir, STATE_DIR);
  const folders = () => readdirSync(root).filter((n) => n.startsWith('step-'));
  assert.equal(folders().length, 1, 'older checkpoint folders are removed');
  // What a kill during the next write leaves: a folder with a partial file and a temp manifest.
  mkdirSync(join(root, 'step-00000003-dead'));
  writeFileSync(join(root, 'step-00000003-dead', 'state.safetensors'), 'partial');
  writeFileSync(join(root, '.manifest.json.abcd.tmp'), '{');
  assert.equal((await loadTrainingState(dir)).info.step, 2);
  await saveTrainingState(dir, makeState(4));
  assert.equal((await loadTrainingState(dir)).info.step, 4);
  assert.deepEqual(
    readdirSync(root).filter((n) => n !== 'manifest.json'),
    folders(),
    'leftovers cleaned up',
  );
});

test('a damaged checkpoint file is reported by name, not loaded', async () => {
  const dir = join(tmp, 'damaged');
  await saveTrainingState(dir, makeState(5));
  const root = join(dir, STATE_DIR);
  const current = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')).current as string;
  const file = join(root, current, 'state.safetensors');
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(file, bytes);
  await assert.rejects(loadTrainingState(dir), (e: Error) => {
    assert.match(e.message, /state\.safetensors: is damaged/);
    return true;
  });
  writeFileSync(join(root, 'manifest.json'), '{"format":"other"}');
  await assert.rejects(loadTrainingState(dir), /not a scoresde-training-state manifest/);
});
