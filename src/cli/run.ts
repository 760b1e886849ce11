/** The `scoresde` command dispatcher: picks the subcommand, maps failures to messages and exit codes. */
import { createRequire } from 'node:module';
import { ConfigError, FileFormatError, NumericalError } from '../errors.js';
import { CliError, type CliIO, nearestFlag, UsageError } from './args.js';
import { runColorize, runInpaint } from './edit.js';
import { runEvaluate } from './evaluate.js';
import { InterruptedRun } from './image-run.js';
import { runInfo } from './info.js';
import { runInterpolate } from './interpolate.js';
import { runLikelihood } from './likelihood.js';
import { runSample } from './sample.js';
import { runTrain } from './train.js';

export const MAIN_HELP = `Usage: scoresde <command> [options]

Score SDE (variance-exploding) image generation: diffusers' ScoreSdeVePipeline
in TypeScript.

Commands:
  sample     generate images
             scoresde sample --model google/ncsnpp-celebahq-256 --count 4
  inpaint    fill in the white part of a mask
             scoresde inpaint --model <m> --image in.png --mask mask.png
  colorize   colour a grayscale image
             scoresde colorize --model <m> --image gray.png
  info       model summary and timing
             scoresde info --model ./my-model
  train      train or fine-tune a score model
             scoresde train --config ve-gray-32 --data ./images --out ./my-model
  evaluate   FD, label histogram and memorisation check (Fashion-MNIST)
             scoresde evaluate --model <m> --count 1000 --out report.json
  likelihood bits/dim of a dataset (probability-flow ODE)
             scoresde likelihood --model <m> --data ./fashion-mnist --count 100
  interpolate  decode a path between two images' latents
             scoresde interpolate --model <m> --a a.png --b b.png --frames 8

Options:
  -h, --help       this help; "scoresde <command> --help" for a command's
  -v, --version    the version of scoresde

Exit codes: 0 done, 1 error, 130 interrupted (Ctrl-C).`;

type Command = (argv: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  sample: runSample,
  info: runInfo,
  inpaint: runInpaint,
  colorize: runColorize,
  evaluate: runEvaluate,
  train: runTrain,
  likelihood: runLikelihood,
  interpolate: runInterpolate,
};

function packageVersion(): string {
  const require = createRequire(import.meta.url);
  for (const p of ['../../package.json', '../../../package.json']) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // dist/cli/ and src/cli/ sit at different depths
    }
  }
  return 'unknown';
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${MAIN_HELP}\n`);
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    const near = nearestFlag(
      name,
      Object.fromEntries(Object.keys(COMMANDS).map((c) => [c, { type: 'boolean' }])),
    );
    const hint = near === undefined ? '' : `; did you mean ${near.slice(2)}?`;
    io.stderr.write(`scoresde: unknown command "${name}"${hint}\n\n${MAIN_HELP}\n`);
    return 1;
  }
  try {
    return await command(rest, io);
  } catch (e) {
    const err = e as Error;
    if (err?.name === 'AbortError' || io.signal?.aborted) {
      const hint = err instanceof InterruptedRun ? `; ${err.message}` : '';
      io.stderr.write(`\nscoresde: interrupted${hint}\n`);
      return 130;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`scoresde: ${err.message}\nRun "scoresde ${name} --help" for usage.\n`);
      return 1;
    }
    // Errors that already say what is wrong with an input (a file, a config, a model's numbers): one line.
    if (
      err instanceof CliError ||
      err instanceof FileFormatError ||
      err instanceof ConfigError ||
      err instanceof NumericalError
    ) {
      io.stderr.write(`scoresde: ${err.message}\n`);
      return 1;
    }
    // Anything else (a runtime failure such as a missing CUDA library, or a bug): the message, and the
    // stack on request so a bug can be reported.
    const debug = process.env.SCORESDE_DEBUG === '1';
    io.stderr.write(
      debug
        ? `scoresde: ${err?.stack ?? String(e)}\n`
        : `scoresde: ${err?.message ?? String(e)}\n(run with SCORESDE_DEBUG=1 for details)\n`,
    );
    return 1;
  }
}
