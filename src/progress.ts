/**
 * Progress for long work: a redrawn bar with rate and ETA on a terminal, plain periodic lines
 * elsewhere (CI logs, pipes), nothing when quiet.
 */
export interface ProgressArgs {
  label: string;
  total: number;
  /** Unit of the rate, e.g. `img/s`. */
  unit?: string;
  /** Stream to draw on; default stderr, so stdout stays clean for --json. */
  stream?: NodeJS.WriteStream;
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

export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastLine = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly plain: boolean;
  private extra = '';

  constructor(private readonly args: ProgressArgs) {
    this.stream = args.stream ?? process.stderr;
    this.plain = args.plain ?? (!this.stream.isTTY || !!process.env.CI);
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
    const now = performance.now();
    if (this.plain) {
      if (now - this.lastLine < (this.args.every ?? 10) * 1000 && done < this.args.total) return;
      this.lastLine = now;
      this.stream.write(`${this.line()}\n`);
    } else {
      if (now - this.lastLine < 100 && done < this.args.total) return;
      this.lastLine = now;
      this.stream.write(`\r${this.bar()}\x1b[K`);
    }
  }

  private line(): string {
    const { label, total, unit = 'it/s' } = this.args;
    const pct = total ? ((100 * this.done) / total).toFixed(1) : '100';
    const eta = this.rate > 0 ? (total - this.done) / this.rate : NaN;
    return `${label}: ${this.done}/${total} (${pct}%) ${this.rate.toFixed(1)} ${unit}, ETA ${formatDuration(eta)}${this.extra ? `, ${this.extra}` : ''}`;
  }

  private bar(): string {
    const width = 28;
    const { total } = this.args;
    const frac = total ? Math.min(1, this.done / total) : 1;
    const fill = Math.round(frac * width);
    return `${'█'.repeat(fill)}${'░'.repeat(width - fill)} ${this.line()}`;
  }

  finish(): void {
    if (this.args.quiet) return;
    if (!this.plain) this.stream.write(`\r${this.bar()}\x1b[K\n`);
    else if (this.lastLine === 0 || this.done < this.args.total) this.stream.write(`${this.line()}\n`);
  }
}
