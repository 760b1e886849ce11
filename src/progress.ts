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
  /** Units per second to show (tqdm's smoothed rate); default (n − initial) / elapsedS. */
  rate?: number;
  /** The total is an estimate: shown as `~total`, and the time left as `~MM:SS`. */
  approximate?: boolean;
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
  const average = elapsedS > 0 && done > 0 ? done / elapsedS : undefined;
  const rate = state.rate !== undefined && state.rate > 0 ? state.rate : average;
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

  const about = state.approximate ? '~' : '';
  const remaining = rate === undefined ? '?' : about + formatInterval(Math.max(total - n, 0) / rate);
  const fraction = Math.min(n / total, 1);
  const left = `${prefix}${(fraction * 100).toFixed(0).padStart(3)}%|`;
  const right = `| ${count(n)}/${about}${count(total)} [${elapsed}<${remaining}, ${rateText}${postfix}]`;
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
  /** tqdm `smoothing`: weight of the latest rate in its moving average (default 0.3; 0 = average since start). */
  smoothing?: number;
  /** The total is an estimate (shown as `~total`). */
  approximate?: boolean;
}

/** tqdm's EMA: exponential moving average with bias correction for its first values. */
class Ema {
  private last = 0;
  private calls = 0;
  constructor(private readonly alpha: number) {}
  add(x: number): void {
    this.last = this.alpha * x + (1 - this.alpha) * this.last;
    this.calls++;
  }
  get value(): number {
    return this.calls === 0 ? 0 : this.last / (1 - (1 - this.alpha) ** this.calls);
  }
}

/** Bars drawn in place on a terminal right now, so that messages can be printed above them. */
const liveBars = new Set<ProgressBar>();

/** A live bar: call `update()` per unit and `close()` at the end (it then prints the final line). */
export class ProgressBar {
  n = 0;
  /** May change while running (an adaptive sampler's estimate). */
  total?: number;
  /** Text shown after the rate (tqdm `set_postfix_str`); drawn at the next redraw. */
  postfix?: string;
  private readonly options: ProgressBarOptions;
  readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly startMs: number;
  private readonly isTTY: boolean;
  private readonly minIntervalMs: number;
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  private lastLength = 0;
  private lastDrawnN = -1;
  private closed = false;
  /** For the smoothed rate: n and time at the last redraw caused by update() (tqdm last_print_n/_t). */
  private lastPrintN = 0;
  private lastPrintMs: number;
  private readonly emaDn: Ema;
  private readonly emaDt: Ema;

  constructor(options: ProgressBarOptions = {}) {
    this.options = options;
    this.total = options.total;
    this.n = options.initial ?? 0;
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.startMs = this.now();
    this.isTTY = this.stream.isTTY === true;
    this.minIntervalMs = options.minIntervalMs ?? (this.isTTY ? 100 : 10_000);
    this.lastPrintMs = this.startMs;
    this.lastPrintN = this.n;
    this.emaDn = new Ema(options.smoothing ?? 0.3);
    this.emaDt = new Ema(options.smoothing ?? 0.3);
    if (this.isTTY && !options.disable) liveBars.add(this);
    if (this.isTTY) this.draw();
  }

  /**
   * Prints `text` (a line, or lines) on `stream` above the bars drawn there, then redraws them (tqdm.write):
   * a warning in mid-run leaves neither a stale bar line nor text wrapped into the bar.
   */
  static write(text: string, stream: ProgressStream = process.stderr): void {
    const bars = [...liveBars].filter((b) => b.stream === stream);
    for (const b of bars) b.clearLine();
    stream.write(text.endsWith('\n') ? text : `${text}\n`);
    for (const b of bars) b.draw();
  }

  /** Seconds since the bar started. */
  get elapsedS(): number {
    return (this.now() - this.startMs) / 1000;
  }

  /** Advances by `k` units and redraws if the last redraw is old enough. */
  update(k = 1): void {
    this.n += k;
    const now = this.now();
    if (now - this.lastDrawMs < this.minIntervalMs) return;
    this.sampleRate(now);
    this.draw();
  }

  /** Redraws without advancing (so the elapsed time ticks during a long unit), throttled like update(). */
  refresh(): void {
    if (this.now() - this.lastDrawMs >= this.minIntervalMs) this.draw();
  }

  /**
   * tqdm: the rate is an EMA of the rates between redraws, so a slow first step (building the session)
   * does not inflate the time left for long. Adds the interval since the last redraw.
   */
  private sampleRate(now: number): void {
    const dn = this.n - this.lastPrintN;
    const dt = (now - this.lastPrintMs) / 1000;
    if (this.smoothing > 0 && dn > 0 && dt > 0) {
      this.emaDn.add(dn);
      this.emaDt.add(dt);
    }
    this.lastPrintN = this.n;
    this.lastPrintMs = now;
  }

  private get smoothing(): number {
    return this.options.smoothing ?? 0.3;
  }

  /** Units per second: the smoothed rate once there is one, else the average since the start. */
  get rate(): number | undefined {
    const dt = this.emaDt.value;
    if (this.smoothing > 0 && dt > 0) return this.emaDn.value / dt;
    const done = this.n - (this.options.initial ?? 0);
    return this.elapsedS > 0 && done > 0 ? done / this.elapsedS : undefined;
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
      rate: this.rate,
      approximate: o.approximate,
    });
  }

  /** Draws the final state and ends the line. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    // The units since the last redraw count in the final rate: in logs (one redraw per 10 s) a short run would
    // otherwise end showing the rate of its first, slowest unit.
    this.sampleRate(this.now());
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
    liveBars.delete(this);
  }

  /** Blanks the bar's line on a terminal (before a message is printed over it). */
  private clearLine(): void {
    if (this.lastLength > 0) this.stream.write(`\r${' '.repeat(this.lastLength)}\r`);
    this.lastLength = 0;
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
