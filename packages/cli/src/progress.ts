/** A byte-progress line on stderr: redrawn in place on a terminal, a line per 10% otherwise. */
export class ByteProgress {
  private done = 0;
  private lastDecile = -1;
  private readonly started = Date.now();
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly quiet = false,
  ) {}

  add(bytes: number): void {
    this.done += bytes;
    if (this.quiet) return;
    const pct = this.total > 0 ? Math.floor((this.done / this.total) * 100) : 100;
    if (this.tty) process.stderr.write(`\r${this.line(pct)}`);
    else if (Math.floor(pct / 10) > this.lastDecile) {
      this.lastDecile = Math.floor(pct / 10);
      process.stderr.write(`${this.line(pct)}\n`);
    }
  }

  finish(): void {
    if (!this.quiet && this.tty) process.stderr.write(`\r${this.line(100)}\n`);
  }

  private line(pct: number): string {
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000);
    const mib = this.done / 1024 / 1024;
    return `${this.label}: ${pct}% (${mib.toFixed(1)} MiB, ${(mib / secs).toFixed(1)} MiB/s)`;
  }
}

/** "90s", "5m", "2h", "1d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration; use e.g. 30s, 5m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
