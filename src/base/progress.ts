/**
 * Progress for long work: on a terminal, a bar redrawn in place by cli-progress, never wider than
 * the terminal (a narrow window would otherwise wrap every redraw onto a new line); elsewhere (CI
 * logs, pipes) a plain line every few seconds; nothing when quiet.
 */
import cliProgress from 'cli-progress';

export interface ProgressArgs {
  label: string;
  total: number;
  /** Unit of the rate, e.g. `img/s`. */
  unit?: string;
  /** Stream to draw on; default stderr, so stdout stays clean for --json. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the plain-lines mode (default: when the stream is not a TTY or CI is set). */
  plain?: boolean;
  /** Seconds between plain lines; default 10. */
  every?: number;
  quiet?: boolean;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** Widest bar drawn; it shrinks first when the terminal is narrow. */
const BAR_WIDTH = 28;
/** Narrowest bar worth drawing; below it the bar is left out and the text is cut. */
const MIN_BAR = 6;

/** `bar text` fitted into `columns − 1` characters (the last column would wrap on some terminals). */
export function fitLine(fraction: number, text: string, columns: number): string {
  const room = Math.max(1, columns - 1);
  const barWidth = Math.min(BAR_WIDTH, room - text.length - 1);
  if (barWidth < MIN_BAR) return text.length > room ? `${text.slice(0, room - 1)}…` : text;
  const fill = Math.round(Math.min(1, Math.max(0, fraction)) * barWidth);
  return `${'█'.repeat(fill)}${'░'.repeat(barWidth - fill)} ${text}`;
}

export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastLine = 0;
  private readonly stream: NonNullable<ProgressArgs['stream']>;
  private readonly plain: boolean;
  private extra = '';
  private bar?: cliProgress.SingleBar;

  constructor(private readonly args: ProgressArgs) {
    this.stream = args.stream ?? process.stderr;
    this.plain = args.plain ?? (!this.stream.isTTY || !!process.env.CI);
    if (!this.plain && !args.quiet) {
      this.bar = new cliProgress.SingleBar({
        stream: this.stream as NodeJS.WritableStream,
        format: (_options, params) => fitLine(args.total ? params.value / args.total : 1, this.line(), params.maxWidth),
        fps: 10,
        hideCursor: false,
        // With wrapping off the terminal cuts a line rather than wrapping it: a second guard.
        linewrap: false,
        clearOnComplete: false,
        stopOnComplete: false,
      });
      this.bar.start(args.total, 0);
    }
  }

  /** Rate in units per second since the start. */
  get rate(): number {
    const s = (performance.now() - this.start) / 1000;
    return s > 0 ? this.done / s : 0;
  }

  update(done: number, extra = ''): void {
    this.done = done;
    this.extra = extra;
    if (this.args.quiet) return;
    if (this.bar) {
      this.bar.update(done);
      return;
    }
    const now = performance.now();
    // The first update is always said (the work has begun), then one line per `every` seconds and the end.
    if (this.lastLine !== 0 && now - this.lastLine < (this.args.every ?? 10) * 1000 && done < this.args.total) return;
    this.lastLine = now;
    this.stream.write(`${this.line()}\n`);
  }

  /** `label: done/total (pct%) rate unit, ETA …, extra`. */
  line(): string {
    const { label, total, unit = 'it/s' } = this.args;
    const pct = total ? ((100 * this.done) / total).toFixed(1) : '100';
    const eta = this.rate > 0 ? (total - this.done) / this.rate : NaN;
    return `${label}: ${this.done}/${total} (${pct}%) ${this.rate.toFixed(1)} ${unit}, ETA ${formatDuration(eta)}${this.extra ? `, ${this.extra}` : ''}`;
  }

  finish(): void {
    if (this.args.quiet) return;
    if (this.bar) {
      this.bar.update(this.done);
      this.bar.stop(); // draws the last state and ends the line
    } else if (this.lastLine === 0 || this.done < this.args.total) {
      this.stream.write(`${this.line()}\n`);
    }
  }
}
