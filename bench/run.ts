/**
 * `npm run bench`: runs every benchmark and writes BENCHMARKS.md (atomically).
 *   npm run bench                 # all sections
 *   npm run bench -- unet         # one section (first-run | unet | web | train-step | gradient-graphs | samplers | data | evaluate | denoiser | likelihood | bpd-table); the others keep their last results
 * Sections are measured on this machine; the file says which machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/io/atomic.js';

const resultPath = (name: string) => `bench/results/${name}.md`;

interface Section {
  name: string;
  title: string;
  run: () => Promise<string>;
}

const sections: Section[] = [
  {
    name: 'first-run',
    title: 'First run: scoresde sample on the bundled model',
    run: async () => (await import('./first-run.js')).runFirstRunBench(),
  },
  {
    name: 'unet',
    title: 'UNet2DModel forward',
    run: async () => (await import('./unet.js')).runUnetBench(),
  },
  {
    name: 'web',
    title: 'In the browser: onnxruntime-web (wasm) against Node native',
    run: async () => (await import('./web.js')).runWebBench(),
  },
  {
    name: 'train-step',
    title: 'Training step (DSM forward + backward, clip, Adam, EMA)',
    run: async () => (await import('./train-step.js')).runTrainStepBench(),
  },
  {
    name: 'gradient-graphs',
    title:
      'Gradient graphs before and after the blocked NCHWc path: training step, likelihood VJP, classifier',
    run: async () => (await import('./gradient-graphs.js')).runGradientGraphsBench(),
  },
  {
    name: 'samplers',
    title: 'Sampler quality against network calls',
    run: async () => (await import('./samplers-quality.js')).runSamplerBench(),
  },
  {
    name: 'data',
    title: 'Training data loading',
    run: async () => (await import('./data.js')).runDataBench(),
  },
  {
    name: 'evaluate',
    title: 'Fashion-MNIST: Fréchet distance against network calls',
    run: async () => (await import('./evaluate.js')).runEvaluateBench(),
  },
  {
    name: 'denoiser',
    title: 'Fashion-MNIST: per-σ denoiser and the Gaussian safety net',
    run: async () => (await import('./denoiser.js')).runDenoiserBench(),
  },
  {
    name: 'likelihood',
    title: 'Likelihood (bits/dim) throughput',
    run: async () => (await import('./likelihood.js')).runLikelihoodBench(),
  },
  {
    name: 'bpd-table',
    title: 'Fashion-MNIST test bits/dim of the bundled model',
    run: async () => (await import('./likelihood-table.js')).runBpdTableBench(),
  },
];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const chosen = only.length ? sections.filter((s) => only.includes(s.name)) : sections;
  if (chosen.length === 0)
    throw new Error(
      `unknown section(s) ${only.join(', ')}; known: ${sections.map((s) => s.name).join(', ')}`,
    );
  const parts = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Speeds are medians after warm-up on the machine described in each section; compare ratios only within one run.`,
    '',
  ];
  for (const s of chosen) {
    console.error(`[bench] ${s.name} …`);
    const t0 = performance.now();
    const md = await s.run();
    console.error(`[bench] ${s.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await writeFileAtomic(resultPath(s.name), `${md.trim()}\n`);
  }
  // BENCHMARKS.md holds the latest result of every section, so running one section keeps the others.
  for (const s of sections) {
    if (existsSync(resultPath(s.name)))
      parts.push(`## ${s.title}`, '', readFileSync(resultPath(s.name), 'utf8').trim(), '');
  }
  await writeFileAtomic('BENCHMARKS.md', parts.join('\n'));
  console.error('[bench] wrote BENCHMARKS.md');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
