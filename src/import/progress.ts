// An import's progress on stderr: a bar on a terminal (bytes, rate, ETA, counts), else a line
// every few seconds.

/** Where messages and progress go: process.stderr, or anything with write(). */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Stats {
  rowsRead: number;
  imported: number;
  duplicates: number;
  rejected: number;
  bytesRead: number;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

function megabytes(bytes: number): string {
  return (bytes / 1_048_576).toFixed(1);
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly mode: 'bar' | 'lines' | 'none',
    private readonly everyMs: number,
    private readonly size: number | null,
    private readonly stats: Stats,
    private readonly started: number,
  ) {}

  start(): void {
    if (this.mode === 'none') return;
    this.timer = setInterval(() => this.render(), this.mode === 'bar' ? 200 : this.everyMs);
    this.timer.unref();
  }

  /** Takes the bar off the line before a message is printed; the next tick draws it again. */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private render(): void {
    const s = this.stats;
    const elapsed = Date.now() - this.started;
    const rate = elapsed > 0 ? Math.round((s.rowsRead * 1000) / elapsed) : 0;
    const size = this.size ?? 0;
    const known = size > 0;
    const fraction = known ? Math.min(1, s.bytesRead / size) : 0;
    const eta =
      known && s.bytesRead > 0 ? clock((size - s.bytesRead) * (elapsed / s.bytesRead)) : '?';
    const bytes = known
      ? `${megabytes(s.bytesRead)}/${megabytes(size)} MB`
      : `${megabytes(s.bytesRead)} MB`;
    if (this.mode === 'bar') {
      const width = 24;
      const done = Math.round(fraction * width);
      const bar = known ? `[${'#'.repeat(done)}${'-'.repeat(width - done)}] ` : '';
      const pct = known ? `${(fraction * 100).toFixed(1).padStart(5)}% ` : '';
      let line =
        `${bar}${pct}${bytes}  ${count(rate)} rows/s  ETA ${eta}  ` +
        `${count(s.imported)} imported  ${count(s.rejected)} rejected`;
      const columns = this.out.columns ?? 120;
      if (line.length >= columns) line = line.slice(0, columns - 1);
      this.out.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      const pct = known ? `${(fraction * 100).toFixed(1)}% (${bytes})` : bytes;
      this.out.write(
        `import: ${pct}, ${count(s.rowsRead)} rows read, ${count(s.imported)} imported, ` +
          `${count(s.duplicates)} already stored, ${count(s.rejected)} rejected, ` +
          `${count(rate)} rows/s, ETA ${eta}\n`,
      );
    }
  }
}
