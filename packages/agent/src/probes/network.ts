import { parseNetDev } from "./proc-parse.js";
import { readProcFile } from "./proc-read.js";
import type { NodeProbe, NodeReading } from "./types.js";

/** Bytes per second in and out over the last interval, every interface but loopback (/proc/net/dev). */
export class NetworkProbe implements NodeProbe {
  readonly name = "network";
  private last: { rxBytes: number; txBytes: number; atMs: number } | null = null;

  constructor(private readonly path = "/proc/net/dev") {}

  async read(nowMs: number): Promise<Partial<NodeReading>> {
    const now = { ...parseNetDev(await readProcFile(this.path)), atMs: nowMs };
    const prev = this.last;
    this.last = now;
    const seconds = prev ? (now.atMs - prev.atMs) / 1000 : 0;
    // Counters reset when an interface goes away: a negative rate means "unknown", so 0.
    const rate = (a: number, b: number) => (seconds > 0 ? Math.max(0, Math.round((a - b) / seconds)) : 0);
    return {
      netRxBytesPerS: prev ? rate(now.rxBytes, prev.rxBytes) : 0,
      netTxBytesPerS: prev ? rate(now.txBytes, prev.txBytes) : 0,
    };
  }
}
