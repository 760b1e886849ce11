/**
 * The README's screenshot of the demo page mid-generation (docs/web-demo.png): builds and serves the demo,
 * opens it in headless Chromium, starts a batch and captures the page while the preview is updating.
 *
 *   node --import tsx tools/web-screenshot.ts [--model <folder url under /models/>] [--out docs/web-demo.png]
 */
import { fileURLToPath } from 'node:url';
import { DEFAULT_SAMPLING } from '../src/pipelines/default-sampling.js';
import { launchChromium, openDemo, startDemo, waitPhase } from '../test/web/browser.js';

const args = process.argv.slice(2);
const opt = (flag: string, def: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : def);
const out = opt('--out', fileURLToPath(new URL('../docs/web-demo.png', import.meta.url)));
const model = opt('--model', '');

// The repository's models/ (the bundled model) beside the test fixtures.
const server = await startDemo([fileURLToPath(new URL('../models', import.meta.url))]);
const chromium = await launchChromium();
try {
  const context = await chromium.newContext();
  const page = await openDemo(context, `${server.url}${model ? `?model=${encodeURIComponent(model)}` : ''}`);
  const error = await waitPhase(page, 'ready', 120_000);
  if (error) throw new Error(error);
  // The page's own default sampler and steps (the bundled model's); a batch of 4.
  await page.fill('#batch', '4');
  await page.fill('#seed', '1');
  await page.click('#generate');
  // Near the end of the default run, while the previews still update.
  await page.waitForFunction(
    (at) => (globalThis as unknown as { scoresdeDemo: { stepsSeen: number } }).scoresdeDemo.stepsSeen >= at,
    Math.max(1, DEFAULT_SAMPLING.steps - 4),
    { timeout: 300_000 },
  );
  // A brush stroke on the inpainting canvas, to show the mask tool.
  const box = (await page.locator('#inpaint-mask').boundingBox())!;
  await page.mouse.move(box.x + 60, box.y + 90);
  await page.mouse.down();
  await page.mouse.move(box.x + 190, box.y + 170, { steps: 10 });
  await page.mouse.up();
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1280, height: 640 } });
  if (await page.isEnabled('#cancel')) await page.click('#cancel'); // a short run may be done by now
  await context.close();
  console.log(`wrote ${out}`);
} finally {
  await chromium.close();
  await server.close();
}
