#!/usr/bin/env node
// Builds the browser artefacts with esbuild:
//   dist/web/scoresde.web.js   the `scoresde/web` library bundle (onnxruntime-web left to the app)
//   dist/web-demo/             the demo page (index.html, main.js, worker.js, ort/ runtime files)
// Node built-ins reached only by file-system methods the browser never calls (fromPretrained, save*) are
// replaced by stubs that throw a clear error; onnxruntime-node or sharp in the bundle is a build error.
// Usage: node scripts/build-web.mjs [--out <dir>] [--lib-only] [--quiet]
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The onnxruntime-web runtimes the demo loads: `onnxruntime-web/wasm` (wasm SIMD + threads) and, for WebGPU,
 * the default `onnxruntime-web` build (JSEP: wasm + WebGPU).
 */
export const ORT_RUNTIME_FILES = [
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
];

/** Every node:* import becomes a module whose exports throw "<name> is not available in a browser". */
const nodeStubs = {
  name: 'node-stubs',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
    build.onResolve({ filter: /^(onnxruntime-node|sharp)$/ }, (args) => ({
      errors: [
        {
          text: `${args.path} (Node-only) is imported by ${args.importer}; the browser bundle must not reach it`,
        },
      ],
    }));
    build.onLoad({ filter: /.*/, namespace: 'node-stub' }, async (args) => {
      const names = Object.keys(await import(args.path)).filter(
        (n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n),
      );
      const lines = [
        `const stub = (name) => function () { throw new Error(\`\${name} is not available in a browser (scoresde/web)\`); };`,
        ...names.map((n) => `export const ${n} = stub(${JSON.stringify(`${args.path} ${n}`)});`),
        `export default new Proxy({}, { get: (_, k) => stub(${JSON.stringify(args.path)} + ' ' + String(k)) });`,
      ];
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  plugins: [nodeStubs],
  logLevel: 'warning',
  // Top-level `process.*` reads in shared modules (warnings, env switches) see an empty process.
  define: { 'process.env.ATEN_CPU_CAPABILITY': 'undefined' },
  banner: {
    js: 'var process = globalThis.process ?? { env: {}, versions: {}, emitWarning: (m) => console.warn(String(m)) };',
  },
};

export async function buildWeb({ out = join(root, 'dist'), quiet = false, libOnly = false } = {}) {
  const lib = join(out, 'web/scoresde.web.js');
  await esbuild.build({
    ...common,
    entryPoints: [join(root, 'src/web/index.ts')],
    outfile: lib,
    external: ['onnxruntime-web'],
  });
  if (libOnly) {
    if (!quiet) console.log(`built ${lib}`);
    return { lib };
  }
  const demo = join(out, 'web-demo');
  await rm(demo, { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: {
      main: join(root, 'web/main.ts'),
      worker: join(root, 'web/worker.ts'),
      bench: join(root, 'web/bench.ts'),
    },
    outdir: demo,
    minify: true,
  });
  for (const f of await readdir(join(root, 'web'))) {
    if (/\.(html|css|png|svg)$/.test(f)) await copyFile(join(root, 'web', f), join(demo, f));
  }
  const ortDist = join(root, 'node_modules/onnxruntime-web/dist');
  await mkdir(join(demo, 'ort'), { recursive: true });
  for (const f of ORT_RUNTIME_FILES) await copyFile(join(ortDist, f), join(demo, 'ort', f));
  if (!quiet) console.log(`built ${lib} and ${demo}/`);
  return { demo, lib };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--out');
  await buildWeb({
    out: i >= 0 ? resolve(args[i + 1]) : undefined,
    quiet: args.includes('--quiet'),
    libOnly: args.includes('--lib-only'),
  });
}
