/** `scoresde info`: architecture summary, size, cost per forward and the expected time per image here. */
import type { ScoreSdeVePipeline } from '../pipelines/index.js';
import { Generator, randnTensor } from '../random/index.js';
import { SAMPLER_NAMES, type SamplerName } from '../samplers/index.js';
import { type CliIO, MODEL_FLAGS, parseCommandArgs } from './args.js';
import { type FlagSection, flagHelp, flagOptions, type OptionSpec } from './flags.js';
import { chooseSampling, describeSampling, samplerFlagList } from './generate-common.js';
import { loadPipelineFromArgs } from './load-model.js';

/**
 * The flags of `scoresde info`, then the model's. The sampler flags are `sample`'s, read as `sample` reads them,
 * so the calls counted are those of the run `sample` would make with the same flags (--gaussian-above included).
 */
const INFO_FLAGS: readonly FlagSection[] = [
  {
    title: 'Options:',
    flags: [{ name: 'no-timing', help: 'skip the timed forwards' }],
  },
  {
    title: 'The run to estimate (as "scoresde sample" takes them):',
    flags: [
      {
        name: 'sampler',
        value: '<name>',
        help: `${SAMPLER_NAMES.join(' | ')} (default: the bundled model's own sampler without --model, else diffusers' loop)`,
      },
      ...samplerFlagList(SAMPLER_NAMES, () => ''),
    ],
  },
  MODEL_FLAGS,
];

export const INFO_HELP = `Usage: scoresde info [--model <id|dir>] [options]

Prints the UNet architecture, its parameter count and FLOPs per forward, the
scheduler settings, then times a few UNet forwards on this machine and
estimates the time per image.

${flagHelp(INFO_FLAGS)}`;

/** What `info`'s parser accepts: exactly the flags its help lists. */
export const INFO_OPTIONS: OptionSpec = flagOptions(INFO_FLAGS);

/** 1234567 → "1,234,567". */
export function groupThousands(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Seconds → "0.120 s", "8 min 3 s", "5 h 56 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(3) : seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)} min ${total % 60} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The architecture lines (no timing). */
export function describePipeline(pipe: ScoreSdeVePipeline): string[] {
  const c = pipe.unet.config as Record<string, unknown>;
  const s = pipe.scheduler.config as Record<string, unknown>;
  const [h, w] = pipe.sampleSize;
  const list = (v: unknown) => (Array.isArray(v) ? v.join(', ') : String(v));
  const flops = pipe.unet.flopsPerForward(1);
  return [
    `UNet2DModel    ${w}×${h}, ${c.in_channels}→${c.out_channels} channels, time embedding ${c.time_embedding_type}`,
    `  channels     [${list(c.block_out_channels)}], ${c.layers_per_block} layers per block`,
    `  down blocks  ${list(c.down_block_types)}`,
    `  up blocks    ${list(c.up_block_types)}`,
    `parameters     ${groupThousands(pipe.unet.parameterCount)}`,
    `FLOPs          ${(flops / 1e9).toFixed(3)} GFLOP per forward at batch 1 (${(flops / 2e9).toFixed(3)} GMAC)`,
    `scheduler      ScoreSdeVeScheduler: σ ${s.sigma_min} … ${s.sigma_max}, snr ${s.snr}, ` +
      `${s.correct_steps} corrector step(s) per step, ${s.num_train_timesteps} train steps`,
  ];
}

/** Mean seconds per UNet forward at batch 1, after one warm-up call; fewer repeats for slow models. */
export async function timeForward(
  pipe: ScoreSdeVePipeline,
  signal?: AbortSignal,
): Promise<{ seconds: number; reps: number }> {
  const [h, w] = pipe.sampleSize;
  const x = randnTensor([1, pipe.unet.config.in_channels as number, h, w], {
    generator: new Generator().manualSeed(0),
  });
  const sigma = new Float32Array([50]);
  const t0 = performance.now();
  await pipe.unet.forward(x, sigma);
  const warmS = (performance.now() - t0) / 1000;
  const reps = warmS < 0.5 ? 5 : warmS < 5 ? 2 : 1;
  const t1 = performance.now();
  for (let i = 0; i < reps; i++) {
    if (signal?.aborted) throw new DOMException('timing was aborted', 'AbortError');
    await pipe.unet.forward(x, sigma);
  }
  return { seconds: (performance.now() - t1) / 1000 / reps, reps };
}

export async function runInfo(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('info', argv, INFO_OPTIONS);
  if (values.help) {
    io.stdout.write(`${INFO_HELP}\n`);
    return 0;
  }
  // The same choice `sample` makes with these flags, so the estimate is of what sample would run.
  const choice = chooseSampling(values, values.sampler as SamplerName | undefined);
  const { pipe, model } = await loadPipelineFromArgs('info', values, io);
  try {
    const { text, calls } = await describeSampling(choice, pipe.scheduler.config);
    const lines = [
      `model          ${model}`,
      ...describePipeline(pipe),
      `sample runs    ${text}: ${calls === undefined ? 'an adaptive number of' : calls} UNet calls per image`,
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    if (values['no-timing'] !== true) {
      const { seconds, reps } = await timeForward(pipe, io.signal);
      const device = values.device === 'cuda' ? 'cuda' : 'cpu';
      const expected =
        calls === undefined
          ? 'adaptive: about the time above per UNet call'
          : `${calls} UNet calls ≈ ${formatDuration(seconds * calls)} per image`;
      io.stdout.write(
        `speed          ${formatDuration(seconds)} per UNet forward (batch 1, ${device}, mean of ${reps})\n` +
          `expected       ${expected}\n`,
      );
    }
    return 0;
  } finally {
    await pipe.release();
  }
}
