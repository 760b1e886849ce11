/**
 * Gradient graphs before and after the blocked NCHWc path and the composite-op adjoints: the three consumers of a
 * gradient graph, timed side by side in one run on one machine, in the code before that work (commit BEFORE, in a
 * temporary detached git worktree) and in the current tree on each convolution path:
 *   - the bundled model's DSM training step graph (scripts/fashion-mnist-unet.json, batch 64; DsmStepGraph.run),
 *   - the likelihood's network call, score + input VJP of the bundled model (models/fashion-mnist), batch 16
 *     (ScoreVjpGraph.run), with the images/s it gives a solve,
 *   - the evaluation classifier's training step (trainClassifier's graph run + host Adam), batch 128.
 * Every case runs bench/gradient-graphs-runner.ts in its own process (in the worktree of BEFORE, a copy of it at
 * the same path), so its peak RSS is its own; the codes alternate, GG_ROUNDS times, and each keeps its best median.
 *
 *   npm run bench -- gradient-graphs                  the section (bench/results/gradient-graphs.md)
 *   GG_ROUNDS=1 GG_DSM_RUNS=1 GG_VJP_RUNS=3 GG_CLASSIFIER_RUNS=3 GG_WARMUP=1 GG_SOLVE_RTOL=1e-2 \
 *   npm run bench -- gradient-graphs                  a quick smoke run (numbers not meaningful)
 * Other knobs: GG_SOLVE=0 skips the likelihood solve (no images/s then); GG_BEFORE=<commit> another "before".
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { DEFAULT_CLASSIFIER_CONFIG } from '../src/evaluation/classifier/config.js';
import { buildClassifier } from '../src/evaluation/classifier/graph.js';
import { InputParams } from '../src/gradients/input-params.js';
import { buildUnetGraph } from '../src/models/unet-2d/build.js';
import { resolveUnetConfig } from '../src/models/unet-2d/index.js';
import { grad } from '../src/onnx/autodiff/grad.js';
import { countFlops } from '../src/onnx/flops.js';
import { GraphBuilder } from '../src/onnx/graph.js';
import { nchwcBlockSize } from '../src/onnx/session.js';
import { DsmStepGraph } from '../src/training/dsm.js';
import {
  CLASSIFIER_BATCH,
  type Consumer,
  type ConvPathName,
  type RunnerResult,
  VJP_BATCH,
} from './gradient-graphs-runner.js';
import { ofPeak, peakSentence } from './peak.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RUNNER = 'bench/gradient-graphs-runner.ts';
/** The last commit before the blocked NCHWc path and the composite-op adjoints. */
const BEFORE = process.env.GG_BEFORE ?? '2182d1f';

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

interface Variant {
  /** The table's "code" cell. */
  label: string;
  root: string;
  /** The current tree's convolution path; undefined for the code before (which has no such option). */
  convPath?: ConvPathName;
}

interface ConsumerSpec {
  consumer: Consumer;
  label: string;
  warmup: number;
  runs: number;
}

function git(args: string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A detached worktree of `commit` under `dir`, with this tree's node_modules and the runner copied in. */
function addBeforeTree(dir: string, commit: string): string {
  const root = join(dir, 'before');
  git(['worktree', 'add', '--detach', root, commit]);
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(root, 'node_modules'));
  copyFileSync(join(ROOT, RUNNER), join(root, RUNNER));
  return root;
}

function removeBeforeTree(root: string): void {
  spawnSync('git', ['worktree', 'remove', '--force', root], { cwd: ROOT });
  rmSync(root, { recursive: true, force: true });
  spawnSync('git', ['worktree', 'prune'], { cwd: ROOT });
}

function runIn<T>(root: string, args: string[]): T {
  const r = spawnSync(process.execPath, ['--import', 'tsx', RUNNER, ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${root}: ${RUNNER} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

/** FLOPs of a graph: countFlops (Conv, MatMul, Gemm) plus its ConvTranspose nodes. */
function graphFlops(g: GraphBuilder): number {
  let flops = countFlops(g);
  for (const n of g.nodes) {
    if (n.opType !== 'ConvTranspose') continue;
    const w = g.shape(n.inputs[1]) as number[]; // (C_in, C_out/group, kH, kW)
    const x = g.shape(n.inputs[0]) as number[];
    flops += 2 * x.reduce((p, d) => p * d, 1) * w[1] * w[2] * w[3];
  }
  return flops;
}

/**
 * Each consumer's nominal FLOPs per call: its graph in the current tree on the standard path (the same
 * convolutions and matrix products as the code before computes), one count for every row of the consumer.
 */
function nominalFlops(): Record<Consumer, number> {
  const cfg = resolveUnetConfig(
    JSON.parse(readFileSync(join(ROOT, 'scripts/fashion-mnist-unet.json'), 'utf8')),
  );
  const size = cfg.sample_size as number;
  const dsm = graphFlops(DsmStepGraph.build(cfg, 64, size, size).graph);
  // The score + VJP graph as ScoreVjpGraph builds it (weights as inputs here: only the count is wanted).
  const v = buildUnetGraph(cfg, new InputParams(), { height: size, width: size, batch: VJP_BATCH });
  const eps = v.input('eps', 'float32', [VJP_BATCH, cfg.out_channels, size, size]);
  v.output(grad(v, v.reduceSum(v.mul('output', eps), [0, 1, 2, 3], false), ['sample']).get('sample')!, 'vjp');
  // The classifier's training graph as trainingGraph builds it.
  const config = DEFAULT_CLASSIFIER_CONFIG;
  const c = new GraphBuilder('classifier_training');
  const s = config.sample_size;
  const x = c.input('images', 'float32', [CLASSIFIER_BATCH, config.in_channels, s, s]);
  const onehot = c.input('onehot', 'float32', [CLASSIFIER_BATCH, config.num_classes]);
  const names: string[] = [];
  const { logits } = buildClassifier(c, x, config, (name, dims) => {
    names.push(name);
    return c.input(name, 'float32', dims);
  });
  const logp = c.op('LogSoftmax', [logits], { axis: { type: 'int', value: 1 } }, c.shape(logits));
  const loss = c.reduceSum(c.mul(onehot, logp), [0, 1], false);
  for (const [name, gname] of grad(c, loss, names)) c.output(gname, `grad.${name}`);
  return { dsm, vjp: graphFlops(v), classifier: graphFlops(c) };
}

export async function runGradientGraphsBench(): Promise<string> {
  const load0 = loadavg()[0];
  const rounds = env('GG_ROUNDS', 2);
  const warm = process.env.GG_WARMUP;
  const specs: ConsumerSpec[] = [
    {
      consumer: 'dsm',
      label: 'DSM training step graph (bundled model, batch 64)',
      warmup: warm ? Number(warm) : 1,
      runs: env('GG_DSM_RUNS', 5),
    },
    {
      consumer: 'vjp',
      label: `likelihood: score + VJP call (bundled model, batch ${VJP_BATCH})`,
      warmup: warm ? Number(warm) : 2,
      runs: env('GG_VJP_RUNS', 9),
    },
    {
      consumer: 'classifier',
      label: `classifier training step (batch ${CLASSIFIER_BATCH})`,
      warmup: warm ? Number(warm) : 2,
      runs: env('GG_CLASSIFIER_RUNS', 9),
    },
  ];
  const block = await nchwcBlockSize();
  const beforeHash = git(['rev-parse', '--short', BEFORE]);
  const nowHash = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '' ? ' + uncommitted changes' : '';
  const dir = mkdtempSync(join(tmpdir(), 'gradient-graphs-'));
  const best = new Map<string, RunnerResult>();
  let solve: { images: number; nfe: number; networkCalls: number; seconds: number } | undefined;
  const solveRtol = env('GG_SOLVE_RTOL', 1e-5);
  let variants: Variant[] = [];
  let beforeRoot: string | undefined;
  const t0 = performance.now();
  try {
    console.error(`[gradient-graphs] worktree of ${beforeHash} …`);
    beforeRoot = addBeforeTree(dir, BEFORE);
    variants = [
      { label: `before (${beforeHash})`, root: beforeRoot },
      ...(block === null ? [] : [{ label: 'now, blocked', root: ROOT, convPath: 'blocked' as const }]),
      { label: 'now, standard', root: ROOT, convPath: 'standard' },
    ];
    for (let round = 0; round < rounds; round++) {
      // The codes alternate (reversed every other round), so that load on a shared machine hits them alike.
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const s of specs)
        for (const v of order) {
          const args = [s.consumer, v.convPath ?? 'default', String(s.warmup), String(s.runs)];
          const m = runIn<RunnerResult>(v.root, args);
          console.error(
            `[gradient-graphs] round ${round + 1}/${rounds} ${s.consumer} ${v.label}: ${m.ms.toFixed(1)} ms (create ${m.createMs.toFixed(0)} ms, RSS ${m.maxRssMiB.toFixed(0)} MiB)`,
          );
          const key = `${s.consumer}|${v.label}`;
          const prev = best.get(key);
          if (!prev || m.ms < prev.ms)
            best.set(key, { ...m, maxRssMiB: Math.max(m.maxRssMiB, prev?.maxRssMiB ?? 0) });
          else prev.maxRssMiB = Math.max(prev.maxRssMiB, m.maxRssMiB);
        }
    }
    if (process.env.GG_SOLVE !== '0') {
      console.error(`[gradient-graphs] one likelihood solve of ${VJP_BATCH} images (current code) …`);
      solve = runIn(ROOT, ['solve', String(VJP_BATCH), String(solveRtol)]);
    }
  } finally {
    if (beforeRoot) removeBeforeTree(beforeRoot);
    rmSync(dir, { recursive: true, force: true });
  }
  const minutes = (performance.now() - t0) / 60000;
  const flops = nominalFlops();
  const load1 = loadavg()[0];
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const rows: string[] = [];
  for (const s of specs) {
    const before = best.get(`${s.consumer}|${variants[0].label}`)!;
    for (const v of variants) {
      const m = best.get(`${s.consumer}|${v.label}`)!;
      const graph = m.graphMs === undefined ? '' : ` (graph ${f(m.graphMs)})`;
      rows.push(
        `| ${s.label} | ${v.label} | ${f(m.ms)}${graph} | ${v === variants[0] ? '–' : `${(before.ms / m.ms).toFixed(2)}×`} | ${m.maxRssMiB.toFixed(0)} | ${ofPeak(flops[s.consumer] / 1e9 / (m.ms / 1000))} |`,
      );
    }
  }
  const vjpRows = solve
    ? variants.map((v) => {
        const m = best.get(`vjp|${v.label}`)!;
        const perSecond = VJP_BATCH / ((m.ms / 1000) * solve.networkCalls);
        return `| ${v.label} | ${f(m.ms)} | ${solve.networkCalls.toFixed(0)} | ${perSecond.toFixed(3)} |`;
      })
    : [];
  const busy =
    Math.max(load0, load1) > availableParallelism()
      ? ' **The load exceeded the core count: the times, and the ratios less so, are not meaningful; rerun `npm run bench -- gradient-graphs` on a quiet machine.**'
      : '';
  const likelihood = solve
    ? [
        '',
        `The likelihood in images per second: a solve of a batch runs the score + VJP graph once per network call for the whole batch (padded to ${VJP_BATCH} rows), so images/s = batch / (ms per call / 1000 × network calls per solve), with batch = ${VJP_BATCH} and the network calls of one real solve: the first ${solve.images} Fashion-MNIST test images (test/fixtures) on the bundled model, current code, default path, hutchinson-rademacher, rtol = atol = ${solveRtol}, dequantized (${solve.nfe.toFixed(0)} ODE evaluations, ${solve.networkCalls.toFixed(0)} network calls; it took ${solve.seconds.toFixed(1)} s, ${(solve.images / solve.seconds).toFixed(3)} images/s measured, host work included). The network calls per solve depend on the model and the tolerances, not on the code, so one count serves every row.`,
        '',
        '| code | ms per call | network calls per solve | images/s |',
        '| --- | --- | --- | --- |',
        ...vjpRows,
      ]
    : [];
  return [
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; Node ${process.version}; onnxruntime-node ${ort.env.versions.node ?? '?'}; NCHWc block ${block ?? 'none (standard path only)'}. Load average at start/end: ${load0.toFixed(1)} / ${load1.toFixed(1)} (a shared VM: times rise with other load). ${peakSentence()}${busy}`,
    '',
    `Everything that runs a gradient graph, in the code before the blocked NCHWc path and the composite-op adjoints (**before**: commit ${beforeHash}, checked out in a temporary git worktree for this run) and now (${nowHash}${dirty}) on each convolution path: **blocked** (the default where onnxruntime has the NCHWc kernels) and **standard** (standard ops, as onnxruntime-web runs them). The consumers: the bundled model's DSM training step graph (scripts/fashion-mnist-unet.json, random weights, batch 64: \`DsmStepGraph.run\`, forward + loss + backward; the host's clip + Adam + EMA, unchanged, are left out), the likelihood's network call (score + input VJP of the bundled model, models/fashion-mnist, batch ${VJP_BATCH}: \`ScoreVjpGraph.run\`; its weights are constants, so before and now onnxruntime's own NCHWc rewrite runs its convolutions on the blocked kernels, which the standard path turns off), and the training step of the classifier \`scoresde evaluate\` uses (trainClassifier's graph run + host Adam at its default batch ${CLASSIFIER_BATCH}; the graph run alone in brackets). Each case ran bench/gradient-graphs-runner.ts in its own process (the code before ran a copy of it in its worktree): ${specs.map((s) => `${s.consumer} ${s.warmup} warm-up + ${s.runs} timed calls`).join(', ')}; ${rounds} round${rounds === 1 ? '' : 's'} with the codes alternating, each row keeping its best median (peak RSS: the highest, the process's maximum resident set). GFLOP/s = the consumer's nominal FLOPs per call (2 × MACs of Conv, ConvTranspose, MatMul, Gemm of its graph on the standard path: ${(flops.dsm / 1e9).toFixed(2)}, ${(flops.vjp / 1e9).toFixed(2)} and ${(flops.classifier / 1e9).toFixed(3)} GFLOP) over the ms per call. This section's run took ${minutes.toFixed(1)} minutes.`,
    '',
    '| consumer | code | ms per call | speed-up vs before | peak RSS MiB | GFLOP/s (% of FMA peak) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    ...likelihood,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runGradientGraphsBench().then(
    (md) => console.log(md),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
