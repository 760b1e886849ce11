/** `scoresde train`: score_sde's continuous VE training of a diffusers UNet2DModel (see src/training/train.ts). */

import { resolve, sep } from 'node:path';
import { ConfigError, DivergenceError, FileFormatError, OptionError } from '../errors.js';
import { formatInterval, ProgressBar } from '../progress.js';
import {
  checkTrainOptions,
  type OptionValue,
  TRAIN_DEFAULTS,
  TRAIN_OPTION_TABLE,
  type TrainOptions,
  type TrainStart,
} from '../training/options.js';
import { PRESET_NAMES, TRAINING_PRESETS } from '../training/presets.js';
import { type TrainResult, train } from '../training/train.js';
import { CliError, type CliIO, maxMemoryOption, parseCommandArgs, UsageError } from './args.js';
import { type FlagSection, flagHelp, flagNamer, flagOptions, type OptionSpec, wrapWords } from './flags.js';

const PRESET_INDENT = '            ';
const presetLines = PRESET_NAMES.map(
  (n) => `        ${n}\n${wrapWords(TRAINING_PRESETS[n].description, PRESET_INDENT, PRESET_INDENT)}`,
).join('\n');

const d = TRAIN_DEFAULTS;

/** The flags of `scoresde train`, by help section; `option` names the train() option each one sets. */
const TRAIN_FLAGS: readonly FlagSection[] = [
  {
    title: 'Model and data:',
    flags: [
      {
        name: 'config',
        value: '<name|file>',
        option: 'config',
        help: 'a preset or a UNet2DModel config.json (random initial weights); presets:',
        after: presetLines,
      },
      {
        name: 'init-from',
        value: '<model>',
        option: 'initFrom',
        help: 'fine-tune a diffusers checkpoint instead (a model folder or a Hub repo id)',
      },
      {
        name: 'data',
        value: '<path>',
        option: 'data',
        help: 'a folder of PNG/JPEG images (resized and centre-cropped) or an MNIST-style IDX file',
      },
      { name: 'flip', option: 'flip', help: 'random horizontal flips' },
      {
        name: 'skip-unreadable',
        option: 'skipUnreadable',
        help: 'skip (and count) image files that cannot be decoded instead of stopping',
      },
      { name: 'out', short: 'o', value: '<dir>', option: 'out', help: 'output folder (required)' },
      { name: 'resume', option: 'resume', help: 'continue the run in --out from its last checkpoint' },
    ],
  },
  {
    title: "Training (defaults are score_sde's):",
    flags: [
      {
        name: 'steps',
        value: '<n>',
        option: 'steps',
        help: "total optimisation steps (required; with --resume, a new total, default the run's own)",
      },
      {
        name: 'batch-size',
        value: '<n>',
        option: 'batchSize',
        help: `images per step (default ${d.batchSize})`,
      },
      { name: 'lr', value: '<x>', option: 'lr', help: `Adam learning rate (default ${d.lr})` },
      {
        name: 'warmup',
        value: '<n>',
        option: 'warmup',
        help: `linear warmup steps (default ${d.warmup}; 0 for none)`,
      },
      {
        name: 'ema',
        value: '<x>',
        option: 'emaDecay',
        help: `EMA decay of the published weights (default ${d.emaDecay})`,
      },
      {
        name: 'grad-clip',
        value: '<x|none>',
        option: 'gradClip',
        help: `largest global gradient norm (default ${d.gradClip})`,
      },
      {
        name: 'sigma-min',
        value: '<x>',
        option: 'sigmaMin',
        help: `smallest noise level (default: the model's scheduler, the preset's, else ${d.sigmaMin})`,
      },
      {
        name: 'sigma-max',
        value: '<x>',
        option: 'sigmaMax',
        help: `largest noise level (default: likewise, else ${d.sigmaMax})`,
      },
      {
        name: 'sigma-sampling',
        value: '<s>',
        option: 'sigmaSampling',
        help: `how σ is drawn (default ${d.sigmaSampling}, score_sde's): edm (EDM's allocation), log-normal:MEAN,STD (of ln σ), or a mix such as 0.5*log-uniform+0.5*log-normal:2.3,1`,
      },
      {
        name: 'reference-batch',
        value: '<n>',
        option: 'referenceBatch',
        help: `Stable Target Field: regress on the posterior mean over n reference images (the batch plus draws from the data; n ≥ the batch size) instead of each row's own image, less noisy at large σ (default ${d.referenceBatch}: plain DSM, score_sde's)`,
      },
      {
        name: 'seed',
        value: '<n>',
        option: 'seed',
        help: `seeds the initial weights, shuffling, flips and noise (default ${d.seed})`,
      },
      {
        name: 'threads',
        value: '<n>',
        option: 'intraOpThreads',
        help: 'onnxruntime threads (default: all cores)',
      },
      {
        name: 'max-memory',
        value: '<size>',
        option: 'maxMemory',
        help: "memory the run may use, e.g. 16G (default: this machine's); a run estimated larger is refused",
      },
      {
        name: 'conv-path',
        value: '<p>',
        option: 'convPath',
        help: "convolution kernels: auto (default: blocked where onnxruntime has them), blocked (onnxruntime's NCHWc kernels) or standard; the two differ by float32 rounding",
      },
    ],
  },
  {
    title: 'Output:',
    flags: [
      {
        name: 'checkpoint-every',
        value: '<n>',
        option: 'checkpointEvery',
        help: `write the pipeline folder and training state every n steps (default ${d.checkpointEvery}; 0: only at the end), at the end, and on Ctrl-C`,
      },
      {
        name: 'sample-every',
        value: '<n>',
        option: 'sampleEvery',
        help: 'write <dir>/samples/step-<k>.png from the EMA weights every n steps (default: never)',
      },
      {
        name: 'sample-count',
        value: '<n>',
        option: 'sampleCount',
        help: `images per sample grid (default ${d.sampleCount})`,
      },
      {
        name: 'sample-steps',
        value: '<n>',
        option: 'sampleSteps',
        help: `DPM-Solver++(2M) steps per sample grid (default ${d.sampleSteps})`,
      },
      {
        name: 'diagnose-every',
        value: '<n>',
        option: 'diagnoseEvery',
        help: "log the per-σ denoiser table of the EMA weights (MSE against the training data's Gaussian denoiser; below 1 at every σ: ready for deterministic samplers) every n steps (default: never), on 64 held-out images",
      },
      {
        name: 'diagnose-data',
        value: '<path>',
        option: 'diagnoseData',
        help: 'those images (default: the test split beside IDX --data, else the first training images)',
      },
      { name: 'quiet', short: 'q', help: 'no progress bar' },
      {
        name: 'cache-dir',
        value: '<dir>',
        option: 'cacheDir',
        help: 'Hub cache for --init-from (default: see sample --help)',
      },
      {
        name: 'revision',
        value: '<rev>',
        option: 'revision',
        help: 'branch, tag or commit of the --init-from repo (default main)',
      },
      {
        name: 'local-files-only',
        option: 'localFilesOnly',
        help: 'take --init-from from the Hub cache only, never the network',
      },
      { name: 'help', short: 'h', help: 'show this help' },
    ],
  },
];

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

${flagHelp(TRAIN_FLAGS)}

The loss (bar, log, summary) is score_sde's: per image, the SUM over its
D = C·H·W values of ½(σ·score + z)², averaged over the batch. A model that has
learnt nothing (score 0) scores about D/2 (392 for 1×28×28), and loss / D is
the per-value error. The bar also shows the learning rate, which rises
linearly over --warmup steps: keep the warmup well below --steps.

Files: <dir>/train_log.jsonl has one line per step:
{"step","loss","lr","grad_norm","seconds"}; with --diagnose-every, also
{"step","denoiser":[{"sigma","model","gaussian","ratio","normCorrectedRatio"},
…]}.`;

/** What `train`'s parser accepts: exactly the flags its help lists. */
export const TRAIN_OPTIONS: OptionSpec = flagOptions(TRAIN_FLAGS);
/** A train() option → the flag that sets it, for the library's messages. */
const flagOf = flagNamer(TRAIN_FLAGS);

/** A flag's text as a number (an integer where the option takes one); the range is train()'s check. */
function numberFlag(name: string, text: string, value: OptionValue): number {
  const t = text.trim();
  const integer = value.kind === 'integer';
  if (t === '' || !Number.isFinite(Number(t)) || (integer && !/^[+-]?\d+$/.test(t)))
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
  return Number(t);
}

/** Flags → train() options; only flags given are set, so a resumed run keeps its saved settings. */
export function parseTrainArgs(values: Record<string, unknown>): Omit<TrainOptions, 'signal'> {
  const o: Record<string, unknown> = {};
  for (const f of TRAIN_FLAGS.flatMap((s) => s.flags)) {
    const v = values[f.name];
    if (f.option === undefined || v === undefined || v === false) continue;
    if (typeof v !== 'string') o[f.option] = true;
    else if (f.option === 'gradClip' && v === 'none') o[f.option] = null;
    else if (f.option === 'maxMemory') o[f.option] = maxMemoryOption(values);
    else if (f.option in TRAIN_OPTION_TABLE && f.option !== 'sigmaSampling')
      o[f.option] = numberFlag(
        f.name,
        v,
        TRAIN_OPTION_TABLE[f.option as keyof typeof TRAIN_OPTION_TABLE].value,
      );
    else o[f.option] = v;
  }
  o.resume = values.resume === true;
  try {
    checkTrainOptions(o as unknown as TrainOptions);
  } catch (e) {
    if (e instanceof OptionError) throw new UsageError(e.render(flagOf));
    throw e;
  }
  return o as Omit<TrainOptions, 'signal'>;
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
  const { values } = parseCommandArgs('train', argv, TRAIN_OPTIONS);
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
      onDiagnostic: (step, r) =>
        io.stdout.write(
          `step ${step}: denoiser MSE ÷ Gaussian's (with the noise-norm correction): ${r.rows.map((x) => `σ ${x.sigma} ${x.ratio.toFixed(2)} (${x.normCorrectedRatio.toFixed(2)})`).join(', ')}\n`,
        ),
    });
  } catch (e) {
    // The user's input (config, data, output folder, a checkpoint): one line, no stack, flags for options.
    if (e instanceof OptionError || e instanceof DivergenceError) throw new CliError(e.render(flagOf));
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
