/**
 * Headless Chromium for the browser tests, the benchmark and the README screenshot: Debian's
 * /usr/bin/chromium driven by playwright-core (no browser download), with the flags that keep it
 * off the network, and the demo built and served from a temp folder.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
// @ts-expect-error: plain .mjs scripts without type declarations
import { buildWeb } from '../../scripts/build-web.mjs';
// @ts-expect-error: plain .mjs scripts without type declarations
import { serveWeb } from '../../scripts/serve-web.mjs';

export const CHROMIUM = process.env.SCORESDE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or null when they can. Outside CI a missing chromium skips
 * them (with this reason printed); in CI (CI=true) it is a failure, so the suite never passes unrun.
 */
export function chromiumMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `${CHROMIUM} not found (install it with: apt-get install -y chromium, or run scripts/ensure-chromium.sh)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`);
  return why;
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface DemoServer {
  url: string;
  /** Request paths seen by the server, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Builds the demo into a temp folder and serves it (models from test/fixtures/models, then `moreModels`). */
export async function startDemo(moreModels: string[] = []): Promise<DemoServer> {
  const out = await mkdtemp(join(tmpdir(), 'scoresde-web-'));
  const { demo } = await buildWeb({ out, quiet: true });
  const requests: string[] = [];
  const server = await serveWeb({
    demoDir: demo,
    modelDirs: [join(import.meta.dirname, '../fixtures/models'), ...moreModels],
    onRequest: (p: string) => requests.push(p),
  });
  return {
    url: server.url,
    requests,
    close: async () => {
      await server.close();
      await rm(out, { recursive: true, force: true });
    },
  };
}

export interface Chromium {
  browser: Browser;
  /** A fresh context (its own Cache Storage): a first visit. */
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}

/** `gpu`: leave the GPU process on and allow WebGPU (for the benchmark's adapter probe). */
export async function launchChromium({ gpu = false } = {}): Promise<Chromium> {
  const args = gpu
    ? [...FLAGS.filter((f) => f !== '--disable-gpu'), '--enable-unsafe-webgpu', '--enable-features=Vulkan']
    : FLAGS;
  // playwright gives every launch a fresh temporary profile (--user-data-dir) and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args, timeout: 60_000 });
  return {
    browser,
    newContext: () => browser.newContext({ viewport: { width: 1280, height: 900 } }),
    close: () => browser.close(),
  };
}

/** Opens the demo page and collects the page's console errors / uncaught exceptions into `errors`. */
export async function openDemo(context: BrowserContext, url: string, errors: string[] = []): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return page;
}

/** Waits until the demo's phase is `phase` (or an error is shown), returning the shown error if any. */
export async function waitPhase(page: Page, phase: string, timeout = 30_000): Promise<string | null> {
  await page.waitForFunction(
    (p) => {
      const d = (globalThis as unknown as { scoresdeDemo: { phase: string; error: string | null } })
        .scoresdeDemo;
      return d && (d.phase === p || d.error !== null);
    },
    phase,
    { timeout },
  );
  return page.evaluate(
    () => (globalThis as unknown as { scoresdeDemo: { error: string | null } }).scoresdeDemo.error,
  );
}
