export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Upload progress on stderr: \r-updates on a terminal, else a line per 10%. */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private open = false;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, final = false): void {
    const percent = this.total > 0 ? Math.floor((done / this.total) * 100) : 100;
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const line =
      `${this.label}: ${String(percent).padStart(3)}% ` +
      `(${formatBytes(done)} of ${formatBytes(this.total)}, ${(done / 1024 / 1024 / seconds).toFixed(1)} MiB/s)`;
    if (this.out.isTTY) {
      const now = Date.now();
      if (!final && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      this.out.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
      this.open = !final;
      return;
    }
    const decile = Math.floor(percent / 10);
    if (decile > this.lastDecile) {
      this.lastDecile = decile;
      this.out.write(`${line}\n`);
    }
  }

  /** Ends a half-drawn terminal line, so what follows starts on its own line. */
  interrupt(): void {
    if (this.open) this.out.write("\n");
    this.open = false;
  }
}

/** "90s", "5m", "2h", "1d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration; use e.g. 30s, 5m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
