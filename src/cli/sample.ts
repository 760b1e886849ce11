/** `scoresde sample`: generate images and write them as PNGs (atomically), plus a grid for batches. */
import { join, resolve } from 'node:path';
import { ScoreSdeVePipeline, gridShape, makeImageGrid } from '../pipelines/index.js';
import { Generator } from '../random/index.js';
import { ScoreSdeVeScheduler } from '../schedulers/index.js';
import {
  type CliIO,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  UsageError,
  intOption,
  parseCommandArgs,
  positiveNumberOption,
} from './args.js';
import { loadPipelineFromArgs } from './load-model.js';

export const SAMPLE_HELP = `Usage: scoresde sample --model <id|dir> [options]

Generates images with diffusers' ScoreSdeVePipeline algorithm (predictor–corrector sampling).
Same seed, same model, same steps → the same images as Python diffusers with
generator=torch.Generator().manual_seed(seed).

Sampling options:
      --steps <n>          predictor steps, diffusers num_inference_steps (default 2000)
      --batch-size <n>     images per run (default 1)
      --seed <n>           random seed (default 0)
      --out <dir>          output folder (default .); files are <prefix>-<seed>-<i>.png and <prefix>-<seed>-grid.png
      --prefix <name>      file name prefix (default sample)
      --snr <x>            corrector signal-to-noise ratio (overrides the scheduler config)
      --sigma-max <x>      largest noise level σ_max (overrides the scheduler config)
  -q, --quiet              no progress bar
${MODEL_OPTIONS_HELP}`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string', short: 'o' },
  prefix: { type: 'string' },
  snr: { type: 'string' },
  'sigma-max': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

export async function runSample(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('sample', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${SAMPLE_HELP}\n`);
    return 0;
  }
  const steps = intOption(values, 'steps', 2000, 1);
  const batchSize = intOption(values, 'batch-size', 1, 1);
  const seed = intOption(values, 'seed', 0, 0);
  const snr = positiveNumberOption(values, 'snr');
  const sigmaMax = positiveNumberOption(values, 'sigma-max');
  const outDir = resolve((values.out as string | undefined) ?? '.');
  const prefix = (values.prefix as string | undefined) ?? 'sample';
  if (prefix === '' || /[/\\]/.test(prefix)) throw new UsageError(`--prefix must be a plain file name part, got "${prefix}"`);

  const loaded = await loadPipelineFromArgs('sample', values, io);
  let pipe = loaded.pipe;
  try {
    if (snr !== undefined || sigmaMax !== undefined) {
      const config = { ...pipe.scheduler.config };
      if (snr !== undefined) config.snr = snr;
      if (sigmaMax !== undefined) config.sigma_max = sigmaMax;
      pipe = new ScoreSdeVePipeline({ unet: pipe.unet, scheduler: ScoreSdeVeScheduler.fromConfig(config) });
    }
    pipe.setProgressBarConfig({ disable: values.quiet === true, stream: io.stderr, unit: 'step' });
    const { images } = await pipe.call({
      batchSize,
      numInferenceSteps: steps,
      generator: new Generator().manualSeed(seed),
      outputType: 'pil',
      signal: io.signal,
    });
    for (const [i, image] of images.entries()) {
      const path = join(outDir, `${prefix}-${seed}-${i}.png`);
      await image.save(path);
      io.stdout.write(`${path}\n`);
    }
    if (images.length > 1) {
      const { rows, cols } = gridShape(images.length);
      const path = join(outDir, `${prefix}-${seed}-grid.png`);
      await makeImageGrid(images, rows, cols).save(path);
      io.stdout.write(`${path}\n`);
    }
    return 0;
  } finally {
    await loaded.pipe.release();
  }
}
