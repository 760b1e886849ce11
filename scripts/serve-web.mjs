#!/usr/bin/env node
// Serves the demo page (dist/web-demo, built by build-web.mjs) and model folders under /models/ (and, as a
// stand-in Hub endpoint <origin>/hub, under /hub/<owner>/<name>/resolve/<revision>/<file>),
// cross-origin isolated (COOP/COEP) so onnxruntime-web can use wasm threads. Local use only: it binds
// to 127.0.0.1 and serves files from the given folders, nothing else.
// Usage: node scripts/serve-web.mjs [--port 8080] [--models <dir>]...   (default models: models/, test/fixtures/models/)
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

/** The file under `base` for URL path `rel`, or null when it escapes `base` or does not exist. */
async function fileUnder(base, rel) {
  const p = resolve(base, `.${sep}${decodeURIComponent(rel)}`);
  if (p !== base && !p.startsWith(base + sep)) return null;
  try {
    const s = await stat(p);
    if (s.isDirectory()) return fileUnder(base, join(rel, 'index.html'));
    return s.isFile() ? { path: p, size: s.size } : null;
  } catch {
    return null;
  }
}

/**
 * Starts the server. `onRequest(path)` sees every request path (the tests count weight downloads).
 * Returns { url, close() }.
 */
export async function serveWeb({
  demoDir = join(root, 'dist/web-demo'),
  modelDirs = [join(root, 'models'), join(root, 'test/fixtures/models')],
  port = 0,
  onRequest,
} = {}) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    onRequest?.(path);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    let file = null;
    const hub = path.match(/^\/hub\/[\w.-]+\/([\w.-]+)\/resolve\/[\w.-]+\/(.+)$/);
    const modelPath = hub ? `${hub[1]}/${hub[2]}` : path.startsWith('/models/') ? path.slice(8) : null;
    if (modelPath !== null) {
      for (const dir of modelDirs) {
        if (!file && existsSync(dir)) file = await fileUnder(resolve(dir), modelPath);
      }
    } else {
      file = await fileUnder(resolve(demoDir), path.slice(1));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file.path)] ?? 'application/octet-stream',
      'Content-Length': String(file.size),
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file.path).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const { port: actual } = server.address();
  return {
    url: `http://127.0.0.1:${actual}/`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag) => args[args.indexOf(flag) + 1];
  const modelDirs = args.flatMap((a, i) => (a === '--models' ? [resolve(args[i + 1])] : []));
  const port = args.includes('--port') ? Number(value('--port')) : 8080;
  if (!existsSync(join(root, 'dist/web-demo/index.html'))) {
    console.error('dist/web-demo is missing: run `node scripts/build-web.mjs` first (npm run web does both)');
    process.exit(1);
  }
  const s = await serveWeb({ port, ...(modelDirs.length ? { modelDirs } : {}) });
  console.log(`scoresde demo: ${s.url}  (Ctrl-C to stop)`);
}
