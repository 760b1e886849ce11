/**
 * Loads one untrusted file in a child process and reports how it failed and what it cost, so that tests can bound
 * the time and memory a hostile file takes. Usage: node --import tsx load-probe.ts <weights|png> <path> [h w]
 * Prints one JSON line: { error?: { name, message }, maxRssMiB, ms }.
 */
import { loadStateDict } from '../../src/io/weights.js';
import { loadImage } from '../../src/pipelines/images.js';

const [kind, path, h, w] = process.argv.slice(2);
const start = performance.now();
let error: { name: string; message: string } | undefined;
try {
  if (kind === 'weights') await loadStateDict(path);
  else await loadImage(path, h ? { size: [Number(h), Number(w)] } : {});
} catch (e) {
  error = { name: (e as Error).name, message: (e as Error).message };
}
const maxRssMiB = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
process.stdout.write(`${JSON.stringify({ error, maxRssMiB, ms: performance.now() - start })}\n`);
