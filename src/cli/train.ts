/** `scoresde train`: score_sde's continuous VE training of a diffusers UNet2DModel (see src/training/train.ts). */

import { resolve, sep } from 'node:path';
import { ConfigError, FileFormatError } from '../errors.js';
import { formatInterval, ProgressBar } from '../progress.js';
import { TRAIN_DEFAULTS, type TrainOptions, type TrainStart } from '../training/options.js';
import { PRESET_NAMES, TRAINING_PRESETS } from '../training/presets.js';
import { type TrainResult, train } from '../training/train.js';
import {
  CliError,
  type CliIO,
  intOption,
  parseCommandArgs,
  positiveNumberOption,
  UsageError,
} from './args.js';

/** Words of `text` wrapped to lines of at most `width` columns, each starting with `indent`. */
function wrap(text: string, indent: string, width = 80): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(' ')) {
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent;
    }
    line += line.length > indent.length ? ` ${word}` : word;
  }
  lines.push(line);
  return lines.join('\n');
}

const presetLines = PRESET_NAMES.map(
  (n) => `        ${n}\n${wrap(TRAINING_PRESETS[n].description, '            ')}`,
).join('\n');

export const TRAIN_HELP = `Usage: scoresde train --config <preset|config.json> --data <images>
                      --out <dir> --steps <n> [options]
       scoresde train --init-from <model> --data <images> --out <dir>
                      --steps <n> [options]
       scoresde train --out <dir> --resume [--steps <n>]

Trains a score model with score_sde's continuous VE denoising score matching
(Adam, warmup, gradient clipping, EMA). <dir> becomes a diffusers
ScoreSdeVePipeline folder holding the EMA weights, loadable by
"scoresde sample --model <dir>" and by Python diffusers; training_state/ beside
it lets --resume continue bit for bit. Ctrl-C finishes the current step, writes
a checkpoint and exits (code 130).

Model and data:
      --config <name|file> a preset or a UNet2DModel config.json (random
                           initial weights); presets:
${presetLines}
      --init-from <model>  fine-tune a diffusers checkpoint instead (a model
                           folder or a Hub repo id)
      --data <path>        a folder of PNG/JPEG images (resized and
                           centre-cropped) or an MNIST-style IDX file
      --flip               random horizontal flips
      --skip-unreadable    skip (and count) image files that cannot be decoded
                           instead of stopping
  -o, --out <dir>          output folder (required)
      --resume             continue the run in --out from its last checkpoint

Training (defaults are score_sde's):
      --steps <n>          total optimisation steps (required; with --resume,
                           a new total, default the run's own)
      --batch-size <n>     images per step (default ${TRAIN_DEFAULTS.batchSize})
      --lr <x>             Adam learning rate (default ${TRAIN_DEFAULTS.lr})
      --warmup <n>         linear warmup steps (default ${TRAIN_DEFAULTS.warmup}; 0 for none)
      --ema <x>            EMA decay of the published weights (default ${TRAIN_DEFAULTS.emaDecay})
      --grad-clip <x|none> largest global gradient norm (default ${TRAIN_DEFAULTS.gradClip})
      --sigma-min <x>      smallest noise level (default: the model's
                           scheduler, the preset's, else ${TRAIN_DEFAULTS.sigmaMin})
      --sigma-max <x>      largest noise level (default: likewise, else ${TRAIN_DEFAULTS.sigmaMax})
      --seed <n>           seeds the initial weights, shuffling, flips and
                           noise (default ${TRAIN_DEFAULTS.seed})
      --threads <n>        onnxruntime threads (default: all cores)

Output:
      --checkpoint-every <n>  write the pipeline folder and training state
                           every n steps (default ${TRAIN_DEFAULTS.checkpointEvery}; 0: only at the
                           end), at the end, and on Ctrl-C
      --sample-every <n>   write <dir>/samples/step-<k>.png from the EMA
                           weights every n steps (default: never)
      --sample-count <n>   images per sample grid (default ${TRAIN_DEFAULTS.sampleCount})
      --sample-steps <n>   DPM-Solver++(2M) steps per sample grid (default ${TRAIN_DEFAULTS.sampleSteps})
                           (these four are saved with the run: --resume keeps
                           them unless given again)
  -q, --quiet              no progress bar
      --cache-dir, --revision, --local-files-only
                           Hub options for --init-from (see
                           "scoresde sample --help")
  -h, --help               show this help

The loss (bar, log, summary) is score_sde's: per image, the SUM over its
D = C·H·W values of ½(σ·score + z)², averaged over the batch. A model that has
learnt nothing (score 0) scores about D/2 (392 for 1×28×28), and loss / D is
the per-value error. The bar also shows the learning rate, which rises
linearly over --warmup steps: keep the warmup well below --steps.

Files: <dir>/train_log.jsonl has one line per step:
{"step","loss","lr","grad_norm","seconds"}.`;

const OPTIONS = {
  config: { type: 'string' },
  'init-from': { type: 'string' },
  data: { type: 'string' },
  flip: { type: 'boolean' },
  'skip-unreadable': { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  resume: { type: 'boolean' },
  steps: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  warmup: { type: 'string' },
  ema: { type: 'string' },
  'grad-clip': { type: 'string' },
  'sigma-min': { type: 'string' },
  'sigma-max': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'sample-every': { type: 'string' },
  'sample-count': { type: 'string' },
  'sample-steps': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'cache-dir': { type: 'string' },
  revision: { type: 'string' },
  'local-files-only': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Flags → train() options; only flags given are set, so a resumed run keeps its saved settings. */
export function parseTrainArgs(values: Record<string, unknown>): Omit<TrainOptions, 'signal'> {
  const out = values.out;
  if (typeof out !== 'string' || out === '') throw new UsageError('train: --out is required');
  if (values.steps === undefined && values.resume !== true)
    throw new UsageError('train: --steps is required');
  const optInt = (name: string, min: number) =>
    values[name] === undefined ? undefined : intOption(values, name, 0, min);
  const ema = values.ema === undefined ? undefined : Number(values.ema);
  if (ema !== undefined && !(ema >= 0 && ema < 1))
    throw new UsageError(`--ema must be a number in [0, 1), got "${values.ema}"`);
  const clip = values['grad-clip'];
  const o: Omit<TrainOptions, 'signal'> = {
    config: values.config as string | undefined,
    initFrom: values['init-from'] as string | undefined,
    data: values.data as string | undefined,
    out,
    steps: optInt('steps', 1),
    batchSize: optInt('batch-size', 1),
    lr: positiveNumberOption(values, 'lr'),
    warmup: optInt('warmup', 0),
    emaDecay: ema,
    gradClip:
      clip === undefined ? undefined : clip === 'none' ? null : positiveNumberOption(values, 'grad-clip'),
    sigmaMin: positiveNumberOption(values, 'sigma-min'),
    sigmaMax: positiveNumberOption(values, 'sigma-max'),
    seed: optInt('seed', 0),
    flip: values.flip === true ? true : undefined,
    skipUnreadable: values['skip-unreadable'] === true ? true : undefined,
    checkpointEvery: optInt('checkpoint-every', 0),
    sampleEvery: optInt('sample-every', 0),
    sampleCount: optInt('sample-count', 1),
    sampleSteps: optInt('sample-steps', 1),
    intraOpThreads: optInt('threads', 1),
    resume: values.resume === true,
    cacheDir: values['cache-dir'] as string | undefined,
    revision: values.revision as string | undefined,
    localFilesOnly: values['local-files-only'] === true ? true : undefined,
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Omit<
    TrainOptions,
    'signal'
  >;
}

/** Whether a data error names an image file inside the --data folder (what --skip-unreadable skips). */
function isDataImage(e: unknown, data: unknown): boolean {
  if (!(e instanceof FileFormatError) || typeof data !== 'string') return false;
  return (
    resolve(e.file).startsWith(resolve(data) + sep) && /\.(png|jpe?g|webp|gif|tiff?|avif)$/i.test(e.file)
  );
}

/** The lines printed when a run ends: what was done and where everything is. */
export function trainSummary(r: TrainResult, start: TrainStart | undefined): string {
  const ran = r.step - r.startStep;
  const perStep = ran > 0 ? `, ${(r.seconds / ran).toFixed(2)} s/step` : '';
  const dims = start?.dims;
  const perValue =
    dims && Number.isFinite(r.smoothedLoss) ? ` (${(r.smoothedLoss / dims).toPrecision(3)} per value)` : '';
  const lines = [
    `trained steps ${r.startStep} → ${r.step} in ${formatInterval(r.seconds)}${perStep}; smoothed loss ${Number.isFinite(r.smoothedLoss) ? r.smoothedLoss.toPrecision(4) : 'n/a'}${perValue}`,
    `model (EMA weights, checkpoint of step ${r.step}): ${r.outDir}`,
  ];
  if (r.samples.length > 0)
    lines.push(
      `sample grids: ${r.samples.length} in ${resolve(r.outDir, 'samples')} (last: ${r.samples.at(-1)})`,
    );
  lines.push(
    `log: ${resolve(r.outDir, 'train_log.jsonl')}; continue with: scoresde train --out ${r.outDir} --resume --steps <n>`,
  );
  return lines.join('\n');
}

export async function runTrain(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('train', argv, OPTIONS);
  if (values.help) {
    io.stdout.write(`${TRAIN_HELP}\n`);
    return 0;
  }
  const options = parseTrainArgs(values);
  const say = (text: string) => ProgressBar.write(text, io.stderr);
  let start: TrainStart | undefined;
  let result: TrainResult;
  try {
    result = await train({
      ...options,
      signal: io.signal,
      progressStream: values.quiet ? undefined : io.stderr,
      onWarning: (m) => say(`scoresde: warning: ${m}`),
      onStart: (info) => {
        start = info;
        if (info.resumed) {
          const c = info.cadence;
          const samples = c.sampleEvery > 0 ? `a sample grid every ${c.sampleEvery}` : 'no sample grids';
          say(
            `scoresde: resumed from step ${info.startStep} of ${info.totalSteps} (checkpoint every ${c.checkpointEvery || 'run end'}, ${samples})`,
          );
        }
      },
      onSample: (_step, path) => io.stdout.write(`${path}\n`),
    });
  } catch (e) {
    // The user's input (config, data, output folder, a checkpoint): one line, no stack.
    if (isDataImage(e, options.data))
      throw new CliError(`${(e as Error).message} (--skip-unreadable skips such files)`);
    if (e instanceof ConfigError || e instanceof FileFormatError) throw new CliError((e as Error).message);
    throw e;
  }
  if (result.interrupted) {
    io.stderr.write(
      `scoresde: interrupted at step ${result.step}; checkpoint written to ${result.outDir} (continue with --resume)\n`,
    );
    return 130;
  }
  if (!values.quiet) io.stderr.write(`${trainSummary(result, start)}\n`);
  io.stdout.write(`${result.outDir}\n`);
  return 0;
}
