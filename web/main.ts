/**
 * The demo page: model loading, generation controls, per-step live preview, inpainting with a painted mask
 * and PNG downloads. All sampling runs in worker.ts; this thread only draws.
 */
import { SAMPLER_DESCRIPTIONS, SAMPLER_NAMES, type SamplerName } from '../src/samplers/registry.js';
import {
  DEFAULT_CHURN,
  DEFAULT_GAUSSIAN_ABOVE,
  DEFAULT_GAUSSIAN_NORM_ABOVE,
  DEFAULT_HUB_ENDPOINT,
  DEFAULT_MODEL_URL,
  DEFAULT_NOT_ADVISED,
  DEFAULT_SAMPLER,
  DEFAULT_STEPS,
} from './config.js';
import type { FromWorker, RgbaImage, ToWorker } from './protocol.js';

/** What the page exposes for scripts and the browser tests (read-only use). */
interface DemoState {
  phase: 'idle' | 'loading' | 'ready' | 'running';
  model: Extract<FromWorker, { type: 'loaded' }> | null;
  /** The last finished run: sample (B, 3, H, W) unclamped; np = diffusers output_type="np", (B, H, W, 3). */
  last: { sample: Float32Array; np: Float32Array; npDims: number[]; nfe: number; seconds: number } | null;
  /** The image (1, 3, H, W) and mask (1, 1, H, W; 1 = repaint) of the last inpainting run. */
  inpaintInput: { image: Float32Array; mask: Float32Array } | null;
  /** Steps previewed in the current / last run. */
  stepsSeen: number;
  /** The previews of the current / last run's first step (RGBA), as drawn. */
  firstPreview: RgbaImage[] | null;
  /** Whether the loaded model is the demo's default (the bundled model, whose card advises against some samplers). */
  defaultModel: boolean;
  cancelled: boolean;
  error: string | null;
}
const demo: DemoState = {
  phase: 'idle',
  model: null,
  last: null,
  inpaintInput: null,
  stepsSeen: 0,
  firstPreview: null,
  defaultModel: false,
  cancelled: false,
  error: null,
};
(globalThis as unknown as { scoresdeDemo: DemoState }).scoresdeDemo = demo;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const sourceKind = $<HTMLSelectElement>('source-kind');
const modelUrl = $<HTMLInputElement>('model-url');
const modelRepo = $<HTMLInputElement>('model-repo');
const hubEndpoint = $<HTMLInputElement>('hub-endpoint');
const useWebgpu = $<HTMLInputElement>('use-webgpu');
const loadBtn = $<HTMLButtonElement>('load');
const samplerSel = $<HTMLSelectElement>('sampler');
const stepsIn = $<HTMLInputElement>('steps');
const churnIn = $<HTMLInputElement>('churn');
const gnormIn = $<HTMLInputElement>('gnorm');
const gaboveIn = $<HTMLInputElement>('gabove');
const seedIn = $<HTMLInputElement>('seed');
const batchIn = $<HTMLInputElement>('batch');
const generateBtn = $<HTMLButtonElement>('generate');
const cancelBtn = $<HTMLButtonElement>('cancel');
const inpaintBtn = $<HTMLButtonElement>('inpaint');
const useResultBtn = $<HTMLButtonElement>('use-result');
const results = $<HTMLDivElement>('results');
const inpaintResults = $<HTMLDivElement>('inpaint-results');
const samplerNote = $<HTMLSpanElement>('sampler-note');
const errorBox = $<HTMLDivElement>('error');
const imageCanvas = $<HTMLCanvasElement>('inpaint-image');
const maskCanvas = $<HTMLCanvasElement>('inpaint-mask');
const brush = $<HTMLInputElement>('brush');

const params = new URLSearchParams(location.search);
modelUrl.value = params.get('model') ?? DEFAULT_MODEL_URL;
hubEndpoint.value = params.get('endpoint') ?? DEFAULT_HUB_ENDPOINT;
if (params.get('repo')) {
  sourceKind.value = 'repo';
  modelRepo.value = params.get('repo') ?? '';
}
stepsIn.value = String(DEFAULT_STEPS);
for (const name of SAMPLER_NAMES) {
  const o = document.createElement('option');
  o.value = name;
  o.textContent = name;
  o.title = SAMPLER_DESCRIPTIONS[name];
  samplerSel.append(o);
}
samplerSel.value = DEFAULT_SAMPLER;
churnIn.value = String(DEFAULT_CHURN);
gnormIn.value = DEFAULT_GAUSSIAN_NORM_ABOVE === undefined ? '' : String(DEFAULT_GAUSSIAN_NORM_ABOVE);
gaboveIn.value = DEFAULT_GAUSSIAN_ABOVE === undefined ? '' : String(DEFAULT_GAUSSIAN_ABOVE);

function showSource(): void {
  const repo = sourceKind.value === 'repo';
  $('url-label').hidden = repo;
  $('repo-label').hidden = !repo;
  $('endpoint-label').hidden = !repo;
}
sourceKind.onchange = showSource;
showSource();
/** The default model's card advises against some samplers: their options say so, and choosing one shows why. */
function markSamplers(): void {
  for (const o of samplerSel.options) {
    const why = demo.defaultModel ? DEFAULT_NOT_ADVISED[o.value as SamplerName] : undefined;
    o.textContent = why ? `${o.value} (not advised for this model)` : o.value;
    o.title = why
      ? `${SAMPLER_DESCRIPTIONS[o.value as SamplerName]}; ${why}`
      : SAMPLER_DESCRIPTIONS[o.value as SamplerName];
  }
  samplerChanged();
}
function samplerChanged(): void {
  stepsIn.disabled = samplerSel.value === 'ode'; // adaptive: steps follow the tolerances
  churnIn.disabled = samplerSel.value !== 'heun';
  const why = demo.defaultModel ? DEFAULT_NOT_ADVISED[samplerSel.value as SamplerName] : undefined;
  samplerNote.hidden = why === undefined;
  samplerNote.textContent = why ? `not advised for this model: ${why}` : '';
}
samplerSel.onchange = samplerChanged;
samplerChanged();

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (msg: ToWorker, transfer: Transferable[] = []) => worker.postMessage(msg, transfer);

function setBar(id: string, fraction: number): void {
  $(id).style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
}

function showError(message: string | null): void {
  demo.error = message;
  errorBox.hidden = message === null;
  // Long key lists (a weights / config mismatch) are cut per line; the full text is in demo.error.
  errorBox.textContent = (message ?? '')
    .split('\n')
    .map((line) => (line.length > 240 ? `${line.slice(0, 240)}…` : line))
    .join('\n');
}

function setPhase(phase: DemoState['phase']): void {
  demo.phase = phase;
  const busy = phase === 'loading' || phase === 'running';
  loadBtn.disabled = busy;
  generateBtn.disabled = busy || demo.model === null;
  inpaintBtn.disabled = busy || demo.model === null;
  cancelBtn.disabled = phase !== 'running';
}

/**
 * One canvas per batch image, at the model's resolution (CSS scales it up), in the Images section for a
 * generation or below the inpainting canvas for an inpainting run, led by the original it started from: each
 * kind of run keeps the other's images.
 */
let slots: HTMLCanvasElement[] = [];
function makeSlots(n: number, note: string, original?: HTMLCanvasElement): void {
  const container = original ? inpaintResults : results;
  container.replaceChildren();
  slots = [];
  if (original) {
    $('inpaint-results-title').hidden = false;
    $('inpaint-results-note').textContent = note;
    const box = document.createElement('div');
    box.className = 'result original';
    const c = document.createElement('canvas');
    c.width = original.width;
    c.height = original.height;
    c.getContext('2d')!.drawImage(original, 0, 0);
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = 'original';
    box.append(c, label);
    container.append(box);
  } else {
    $('results-note').textContent = note;
  }
  for (let i = 0; i < n; i++) {
    const box = document.createElement('div');
    box.className = 'result';
    const c = document.createElement('canvas');
    c.width = demo.model?.width ?? 32;
    c.height = demo.model?.height ?? 32;
    box.append(c);
    container.append(box);
    slots.push(c);
  }
}

function draw(images: RgbaImage[]): void {
  images.forEach((im, i) => {
    const c = slots[i];
    if (!c) return;
    c.width = im.width;
    c.height = im.height;
    c.getContext('2d')!.putImageData(
      new ImageData(new Uint8ClampedArray(im.data), im.width, im.height),
      0,
      0,
    );
  });
}

function addDownloads(seed: number): void {
  slots.forEach((c, i) => {
    const a = document.createElement('a');
    a.textContent = 'Download PNG';
    a.download = `scoresde-seed${seed}-${i}.png`;
    a.href = c.toDataURL('image/png');
    c.parentElement!.append(a);
  });
}

let runSeed = 0;
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'load-progress': {
      const name = m.file.split('/').slice(-2).join('/');
      const size = m.total ? ` of ${(m.total / 1e6).toFixed(2)} MB` : '';
      const src = m.fromCache ? ' (from the browser cache)' : '';
      $('model-info').textContent = `${name}: ${(m.loaded / 1e6).toFixed(2)} MB${size}${src}`;
      setBar('load-bar', m.total ? m.loaded / m.total : 0.5);
      break;
    }
    case 'loaded':
      demo.model = m;
      setBar('load-bar', 1);
      $('model-info').textContent =
        `${m.width}×${m.height}, ${(m.parameters / 1e6).toFixed(2)}M parameters · ${m.backend}` +
        `${m.backend === 'wasm' ? `, ${m.threads} thread${m.threads > 1 ? 's' : ''}` : ''}` +
        ` · WebGPU adapter: ${m.webgpuAdapter ? 'yes' : 'none'}`;
      $('step-info').textContent = 'ready';
      setPhase('ready');
      resetInpaintImage();
      markSamplers();
      break;
    case 'step':
      demo.stepsSeen = m.step + 1;
      if (m.step === 0)
        demo.firstPreview = m.preview.map((p) => ({ ...p, data: new Uint8ClampedArray(p.data) }));
      draw(m.preview);
      setBar('step-bar', (m.step + 1) / m.totalSteps);
      $('step-info').textContent =
        `step ${m.step + 1} / ${m.totalSteps} · σ = ${m.sigma.toPrecision(4)} · ${m.nfe} UNet calls`;
      break;
    case 'done':
      demo.last = { sample: m.sample, np: m.np, npDims: m.npDims, nfe: m.nfe, seconds: m.seconds };
      draw(m.images);
      addDownloads(runSeed);
      setBar('step-bar', 1);
      $('step-info').textContent =
        `done: ${m.nfe} UNet calls in ${m.seconds.toFixed(1)} s (${((m.seconds / m.nfe) * 1000).toFixed(0)} ms per call)`;
      useResultBtn.disabled = false;
      setPhase('ready');
      break;
    case 'cancelled':
      demo.cancelled = true;
      $('step-info').textContent = `cancelled after step ${demo.stepsSeen}`;
      setPhase('ready');
      break;
    case 'error':
      showError(m.message);
      $('step-info').textContent = demo.model ? 'ready' : 'load a model to start';
      if (demo.phase === 'loading') $('model-info').textContent = 'load failed';
      setPhase(demo.model && demo.phase !== 'loading' ? 'ready' : 'idle');
      break;
  }
};
worker.onerror = (e) => showError(`the sampling worker failed: ${e.message}`);

loadBtn.onclick = () => {
  showError(null);
  demo.model = null;
  setBar('load-bar', 0);
  setPhase('loading');
  $('model-info').textContent = 'loading…';
  const source =
    sourceKind.value === 'repo'
      ? { repo: modelRepo.value.trim(), endpoint: hubEndpoint.value.trim() }
      : { url: new URL(modelUrl.value.trim(), location.href).href };
  demo.defaultModel = 'url' in source && source.url === new URL(DEFAULT_MODEL_URL, location.href).href;
  // The correction needs the model's gaussian.safetensors: on by default for the bundled model only.
  gnormIn.value =
    demo.defaultModel && DEFAULT_GAUSSIAN_NORM_ABOVE !== undefined ? String(DEFAULT_GAUSSIAN_NORM_ABOVE) : '';
  gaboveIn.value =
    demo.defaultModel && DEFAULT_GAUSSIAN_ABOVE !== undefined ? String(DEFAULT_GAUSSIAN_ABOVE) : '';
  send({ type: 'load', source, webgpu: useWebgpu.checked });
};

function runOptions(): {
  steps: number | undefined;
  seed: number;
  batchSize: number;
  churn: number;
  gaussianNormAbove: number | undefined;
  gaussianAbove: number | undefined;
} | null {
  const seed = Number(seedIn.value);
  const churn = churnIn.disabled ? 0 : Number(churnIn.value);
  const gaussianNormAbove = gnormIn.value.trim() === '' ? undefined : Number(gnormIn.value);
  const gaussianAbove = gaboveIn.value.trim() === '' ? undefined : Number(gaboveIn.value);
  const batchSize = Number(batchIn.value);
  const steps = stepsIn.disabled ? undefined : Number(stepsIn.value);
  let problem: string | null = null;
  if (!Number.isSafeInteger(seed) || seed < 0) problem = 'seed must be a whole number ≥ 0';
  else if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 16)
    problem = 'batch must be a whole number from 1 to 16';
  else if (steps !== undefined && (!Number.isInteger(steps) || steps < 1))
    problem = 'steps must be a whole number ≥ 1';
  else if (!(churn >= 0 && Number.isFinite(churn))) problem = 'churn must be a number ≥ 0';
  else if (gaussianNormAbove !== undefined && !(gaussianNormAbove > 0 && Number.isFinite(gaussianNormAbove)))
    problem = 'the norm fix σ must be a number > 0, or empty for off';
  else if (gaussianAbove !== undefined && !(gaussianAbove > 0 && Number.isFinite(gaussianAbove)))
    problem = 'the Gaussian σ must be a number > 0, or empty for off';
  showError(problem);
  return problem ? null : { steps, seed, batchSize, churn, gaussianNormAbove, gaussianAbove };
}

function start(note: string, batchSize: number, seed: number, original?: HTMLCanvasElement): void {
  showError(null);
  demo.last = null;
  demo.stepsSeen = 0;
  demo.firstPreview = null;
  demo.cancelled = false;
  runSeed = seed;
  makeSlots(batchSize, note, original);
  setBar('step-bar', 0);
  $('step-info').textContent = 'starting…';
  setPhase('running');
}

generateBtn.onclick = () => {
  const o = runOptions();
  if (!o) return;
  const sampler = samplerSel.value as SamplerName;
  start(`${sampler}, seed ${o.seed}`, o.batchSize, o.seed);
  send({ type: 'generate', sampler, ...o });
};
cancelBtn.onclick = () => send({ type: 'cancel' });

// Inpainting: the image canvas holds the model-size image; the mask canvas (256×256) holds the brush strokes.
function resetInpaintImage(): void {
  imageCanvas.width = demo.model?.width ?? 32;
  imageCanvas.height = demo.model?.height ?? 32;
  const g = imageCanvas.getContext('2d')!;
  g.fillStyle = '#808080';
  g.fillRect(0, 0, imageCanvas.width, imageCanvas.height);
}
useResultBtn.onclick = () => {
  // Image 1 of the last generation (inpainting results stay below, beside their original).
  const first = results.querySelector('canvas');
  if (!first) return;
  imageCanvas.width = first.width;
  imageCanvas.height = first.height;
  imageCanvas.getContext('2d')!.drawImage(first, 0, 0);
};
$<HTMLInputElement>('open-image').onchange = async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const bmp = await createImageBitmap(file);
    const g = imageCanvas.getContext('2d')!;
    g.drawImage(bmp, 0, 0, imageCanvas.width, imageCanvas.height);
  } catch {
    showError(`${file.name}: not an image this browser can decode`);
  }
};

const maskCtx = maskCanvas.getContext('2d')!;
let painting = false;
function paint(e: PointerEvent): void {
  const r = maskCanvas.getBoundingClientRect();
  const x = ((e.clientX - r.left) / r.width) * maskCanvas.width;
  const y = ((e.clientY - r.top) / r.height) * maskCanvas.height;
  maskCtx.fillStyle = '#ff2d55';
  maskCtx.beginPath();
  maskCtx.arc(x, y, Number(brush.value) / 2, 0, 2 * Math.PI);
  maskCtx.fill();
}
maskCanvas.onpointerdown = (e) => {
  painting = true;
  maskCanvas.setPointerCapture(e.pointerId);
  paint(e);
};
maskCanvas.onpointermove = (e) => painting && paint(e);
maskCanvas.onpointerup = () => {
  painting = false;
};
$('clear-mask').onclick = () => maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);

/** The painted strokes at the model's resolution: 1 (repaint) where at least half of a pixel's area is painted. */
function maskTensor(w: number, h: number): Float32Array {
  const { data } = maskCtx.getImageData(0, 0, maskCanvas.width, maskCanvas.height);
  const sx = maskCanvas.width / w;
  const sy = maskCanvas.height / h;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let painted = 0;
      let total = 0;
      for (let v = Math.floor(y * sy); v < Math.floor((y + 1) * sy); v++) {
        for (let u = Math.floor(x * sx); u < Math.floor((x + 1) * sx); u++) {
          total++;
          if (data[(v * maskCanvas.width + u) * 4 + 3] > 0) painted++;
        }
      }
      out[y * w + x] = painted * 2 >= total && painted > 0 ? 1 : 0;
    }
  }
  return out;
}

inpaintBtn.onclick = () => {
  const o = runOptions();
  if (!o || !demo.model) return;
  const { width: w, height: h } = demo.model;
  const px = imageCanvas.getContext('2d')!.getImageData(0, 0, w, h).data;
  const image = new Float32Array(3 * w * h); // (1, 3, H, W) in [0, 1]
  for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) image[c * w * h + p] = px[p * 4 + c] / 255;
  const mask = maskTensor(w, h);
  if (!mask.some((v) => v === 1)) return showError('paint the part to regenerate on the image first');
  start(`seed ${o.seed}`, o.batchSize, o.seed, imageCanvas);
  demo.inpaintInput = { image: image.slice(), mask: mask.slice() };
  const { steps, seed, batchSize } = o;
  send({ type: 'inpaint', steps, seed, batchSize, image, mask }, [image.buffer, mask.buffer]);
};

const ua = navigator.userAgent.match(/Chrome\/[\d.]+|Firefox\/[\d.]+|Version\/[\d.]+ Safari/)?.[0] ?? '';
$('runtime').textContent =
  `${ua} · ${crossOriginIsolated ? 'cross-origin isolated (wasm threads)' : 'not isolated (1 wasm thread)'}`;
// Load the default model right away: a new visitor sees images after one click.
loadBtn.click();
