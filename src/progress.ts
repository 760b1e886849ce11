/**
 * A terminal progress bar in the style of tqdm (what diffusers and huggingface_hub show):
 *   ` 45%|████▌     | 9/20 [00:04<00:05,  2.01it/s]`
 * Formatting is pure (`formatProgress`) so it can be tested exactly; `ProgressBar` adds the
 * clock, throttling and carriage-return redraws.
 */

/** Where a bar draws: any writable stream; `isTTY`/`columns` decide redraw style and width. */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** What one line of the bar shows. */
export interface ProgressState {
  /** Units done so far. */
  n: number;
  /** Units in all, when known. */
  total?: number;
  /** Seconds since the bar started. */
  elapsedS: number;
  /** Label before the percentage (tqdm `desc`). */
  desc?: string;
  /** Unit name (tqdm `unit`), default 'it'. */
  unit?: string;
  /** Show counts and rates as 1.23M (tqdm `unit_scale`). */
  unitScale?: boolean;
  /** 1000, or 1024 for bytes (tqdm `unit_divisor`). */
  unitDivisor?: number;
  /** Whole line width; the bar takes what the text leaves (tqdm `ncols`). Without it the bar is 10 wide. */
  width?: number;
  /** Units done before the bar started (tqdm `initial`): counted in n, not in the rate. */
  initial?: number;
  /** Text after the rate (tqdm `postfix`, e.g. `loss=0.123`). */
  postfix?: string;
}

const BAR_CHARS = ' ▏▎▍▌▋▊▉█';

/** tqdm's format_interval: `MM:SS`, or `H:MM:SS` from one hour on. */
export function formatInterval(seconds: number): string {
  const total = Math.max(0, Math.trunc(seconds));
  const s = total % 60;
  const mins = Math.trunc(total / 60);
  const h = Math.trunc(mins / 60);
  const m = mins % 60;
  const two = (v: number) => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

/** tqdm's format_sizeof: 3 significant digits and an SI prefix (k, M, G, …). */
export function formatSizeOf(num: number, suffix = '', divisor = 1000): string {
  let v = num;
  for (const prefix of ['', 'k', 'M', 'G', 'T', 'P', 'E', 'Z']) {
    if (Math.abs(v) < 999.5) {
      if (Math.abs(v) < 99.95) {
        if (Math.abs(v) < 9.995) return `${v.toFixed(2)}${prefix}${suffix}`;
        return `${v.toFixed(1)}${prefix}${suffix}`;
      }
      return `${v.toFixed(0)}${prefix}${suffix}`;
    }
    v /= divisor;
  }
  return `${v.toFixed(1)}Y${suffix}`;
}

/** The bar itself: `width` cells with eighth-cell resolution. */
export function formatBar(fraction: number, width: number): string {
  const frac = Math.min(Math.max(fraction, 0), 1);
  const steps = BAR_CHARS.length - 1;
  const eighths = Math.trunc(frac * width * steps);
  const full = Math.trunc(eighths / steps);
  const partial = eighths % steps;
  if (full >= width) return BAR_CHARS[steps].repeat(width);
  return BAR_CHARS[steps].repeat(full) + BAR_CHARS[partial] + ' '.repeat(width - full - 1);
}

/** Python's '{:5.2f}'. */
const fixed5 = (v: number) => v.toFixed(2).padStart(5);

/** One line exactly as tqdm's format_meter lays it out (default bar format). */
export function formatProgress(state: ProgressState): string {
  const { n, total, elapsedS, desc, unit = 'it', unitScale = false, unitDivisor = 1000 } = state;
  const count = (v: number) => (unitScale ? formatSizeOf(v, '', unitDivisor) : String(v));
  const done = n - (state.initial ?? 0);
  const rate = elapsedS > 0 && done > 0 ? done / elapsedS : undefined;
  const postfix = state.postfix ? `, ${state.postfix}` : '';
  let rateText: string;
  if (rate === undefined) rateText = `?${unit}/s`;
  else if (unitScale) rateText = `${formatSizeOf(rate, '', unitDivisor)}${unit}/s`;
  // tqdm switches to seconds per unit once a unit takes longer than a second.
  else rateText = 1 / rate > 1 ? `${fixed5(1 / rate)}s/${unit}` : `${fixed5(rate)}${unit}/s`;
  const prefix = desc ? `${desc}: ` : '';
  const elapsed = formatInterval(elapsedS);

  if (total === undefined || !(total > 0))
    return `${prefix}${count(n)}${unit} [${elapsed}, ${rateText}${postfix}]`;

  const remaining = rate === undefined ? '?' : formatInterval((total - n) / rate);
  const fraction = n / total;
  const left = `${prefix}${(fraction * 100).toFixed(0).padStart(3)}%|`;
  const right = `| ${count(n)}/${count(total)} [${elapsed}<${remaining}, ${rateText}${postfix}]`;
  const barWidth = state.width === undefined ? 10 : Math.max(state.width - left.length - right.length, 1);
  return left + formatBar(fraction, barWidth) + right;
}

export interface ProgressBarOptions {
  total?: number;
  /** Units already done when the bar starts (tqdm `initial`, e.g. a resumed run). */
  initial?: number;
  desc?: string;
  unit?: string;
  unitScale?: boolean;
  unitDivisor?: number;
  /** Draw nothing (tqdm / diffusers `disable`). */
  disable?: boolean;
  /** Default: process.stderr. */
  stream?: ProgressStream;
  /** Least time between redraws; default 100 ms on a terminal, 10 s elsewhere (one line each, for logs). */
  minIntervalMs?: number;
  /** Millisecond clock, replaceable in tests. */
  now?: () => number;
}

/** A live bar: call `update()` per unit and `close()` at the end (it then prints the final line). */
export class ProgressBar {
  n = 0;
  /** May change while running (an adaptive sampler's estimate). */
  total?: number;
  /** Text shown after the rate (tqdm `set_postfix_str`); drawn at the next redraw. */
  postfix?: string;
  private readonly options: ProgressBarOptions;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly startMs: number;
  private readonly isTTY: boolean;
  private readonly minIntervalMs: number;
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  private lastLength = 0;
  private lastDrawnN = -1;
  private closed = false;

  constructor(options: ProgressBarOptions = {}) {
    this.options = options;
    this.total = options.total;
    this.n = options.initial ?? 0;
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.startMs = this.now();
    this.isTTY = this.stream.isTTY === true;
    this.minIntervalMs = options.minIntervalMs ?? (this.isTTY ? 100 : 10_000);
    if (this.isTTY) this.draw();
  }

  /** Seconds since the bar started. */
  get elapsedS(): number {
    return (this.now() - this.startMs) / 1000;
  }

  /** Advances by `k` units and redraws if the last redraw is old enough. */
  update(k = 1): void {
    this.n += k;
    if (this.now() - this.lastDrawMs >= this.minIntervalMs) this.draw();
  }

  /** The line as it would be drawn now. */
  line(): string {
    const o = this.options;
    return formatProgress({
      n: this.n,
      total: this.total,
      elapsedS: this.elapsedS,
      desc: o.desc,
      unit: o.unit,
      unitScale: o.unitScale,
      unitDivisor: o.unitDivisor,
      width: this.isTTY ? this.stream.columns : undefined,
      initial: o.initial,
      postfix: this.postfix,
    });
  }

  /** Draws the final state and ends the line. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    if (!this.options.disable) {
      if (this.isTTY) {
        this.draw();
        this.stream.write('\n');
      } else if (this.n !== this.lastDrawnN) {
        // Logs: one final line, unless the last line already showed this count.
        this.stream.write(`${this.line()}\n`);
      }
    }
    this.closed = true;
  }

  private draw(): void {
    this.lastDrawMs = this.now();
    if (this.options.disable || this.closed) return;
    const text = this.line();
    this.lastDrawnN = this.n;
    if (this.isTTY) {
      // Pad over what is left of a longer previous line.
      this.stream.write(`\r${text}${' '.repeat(Math.max(this.lastLength - text.length, 0))}`);
      this.lastLength = text.length;
    } else {
      this.stream.write(`${text}\n`);
    }
  }
}
