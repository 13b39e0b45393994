import { existsSync, readFileSync, renameSync, statSync, watch, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@maro/proto";
import { ForwardClient } from "./forward-client.js";

/** Where to ship: the master's Fluentd-compatible sink and its shared key. */
export interface SinkAddress {
  host: string;
  port: number;
  sharedKey: string;
}

export interface ShipperOptions {
  /** The process runtime's output files: <logsDir>/<container>.log. */
  logsDir: string;
  /** Shipped byte offsets per file, so a restart neither loses nor resends much. */
  stateFile: string;
  nodeName: string;
  log: Logger;
  /** Lines per batch; a batch is resent whole until the sink acknowledges it. */
  batchLines?: number;
}

interface Tracked {
  container: string;
  tag: string;
  offset: number;
  /** The process ended: ship what is left, including an unterminated last line, then forget it. */
  ended: boolean;
}

const MAX_LINE_BYTES = 64 * 1024;

/**
 * Ships process-runtime output to the master as Fluentd PackedForward with
 * acks. The output files are the disk buffer: an offset advances only when
 * the sink has acknowledged (durably stored) a batch, so nothing is lost while
 * the master is unreachable or restarts; a batch may be sent twice, never
 * dropped.
 */
export class LogShipper {
  private readonly tracked = new Map<string, Tracked>();
  private sender: ForwardClient | null = null;
  private sinkKey = "";
  private running = false;
  private again = false;
  private closed = false;
  private watcher: ReturnType<typeof watch> | null = null;
  private tick: NodeJS.Timeout | null = null;
  private backoffMs = 200;
  /** One read buffer for every batch: drains never overlap. */
  private readonly buf = Buffer.allocUnsafe(256 * 1024);
  /** What the state file holds now, so an unchanged state is not written again. */
  private saved = "";

  constructor(private readonly options: ShipperOptions) {
    if (existsSync(options.stateFile)) {
      const saved = JSON.parse(readFileSync(options.stateFile, "utf8")) as Tracked[];
      for (const t of saved) this.tracked.set(t.container, t);
    }
  }

  /** Starts shipping a container's file under tag maro.<job>.<container>. */
  track(container: string, job: string): void {
    const known = this.tracked.get(container);
    if (known) {
      // A restart of a replica whose earlier output is still being shipped: go on from there.
      known.ended = false;
    } else {
      // A restart appends to the same file: what is already there was shipped before.
      const file = join(this.options.logsDir, `${container}.log`);
      const offset = existsSync(file) ? statSync(file).size : 0;
      this.tracked.set(container, { container, tag: `maro.${job}.${container}`, offset, ended: false });
    }
    this.save();
    this.kick();
  }

  ended(container: string): void {
    const t = this.tracked.get(container);
    if (t) t.ended = true;
    this.kick();
  }

  setSink(sink: SinkAddress): void {
    const key = `${sink.host}:${sink.port}:${sink.sharedKey}`;
    if (key === this.sinkKey) return;
    this.sinkKey = key;
    this.sender?.close();
    this.sender = new ForwardClient({
      host: sink.host,
      port: sink.port,
      clientHostname: this.options.nodeName,
      ...(sink.sharedKey ? { sharedKey: sink.sharedKey } : {}),
    });
    if (!this.watcher && existsSync(this.options.logsDir)) {
      this.watcher = watch(this.options.logsDir, () => this.kick());
      this.watcher.on("error", () => {});
    }
    // A slow safety net for a missed fs event (and for retries).
    this.tick ??= setInterval(() => this.kick(), 1000);
    this.kick();
  }

  close(): void {
    this.closed = true;
    this.sender?.close();
    this.watcher?.close();
    if (this.tick) clearInterval(this.tick);
    this.save();
  }

  private kick(): void {
    if (this.closed || !this.sender) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.drain()
      .then(() => {
        this.backoffMs = 200;
      })
      .catch((err: unknown) => {
        this.options.log.warn("log shipping paused; will retry", { error: String(err), inMs: this.backoffMs });
        setTimeout(() => this.kick(), this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, 5000);
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async drain(): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      for (;;) {
        const batch = await this.readBatch(t);
        if (batch.lines.length > 0) await this.send(t.tag, batch.lines);
        if (batch.nextOffset !== t.offset) {
          t.offset = batch.nextOffset;
          this.save();
        }
        if (batch.atEnd) break;
      }
      if (t.ended) {
        this.tracked.delete(t.container);
        this.save();
      }
    }
  }

  private async readBatch(t: Tracked): Promise<{ lines: string[]; nextOffset: number; atEnd: boolean }> {
    const file = join(this.options.logsDir, `${t.container}.log`);
    const limit = this.options.batchLines ?? 500;
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(file, "r");
    } catch {
      return { lines: [], nextOffset: t.offset, atEnd: true };
    }
    try {
      // Nothing new since the last batch: no read (the common case at every tick).
      if ((await handle.stat()).size <= t.offset && !t.ended) return { lines: [], nextOffset: t.offset, atEnd: true };
      const buf = this.buf;
      const { bytesRead } = await handle.read(buf, 0, buf.length, t.offset);
      const lines: string[] = [];
      let consumed = 0;
      while (lines.length < limit) {
        const nl = buf.indexOf(10, consumed);
        if (nl < 0 || nl >= bytesRead) break;
        lines.push(buf.subarray(consumed, nl).toString("utf8"));
        consumed = nl + 1;
      }
      const rest = bytesRead - consumed;
      // An unterminated tail is shipped once the process has ended, or when it is too long to wait for.
      if (lines.length < limit && rest > 0 && (t.ended || rest >= MAX_LINE_BYTES) && bytesRead < buf.length) {
        lines.push(buf.subarray(consumed, bytesRead).toString("utf8"));
        consumed = bytesRead;
      }
      const atEnd = lines.length < limit && bytesRead < buf.length;
      return { lines, nextOffset: t.offset + consumed, atEnd };
    } finally {
      await handle.close();
    }
  }

  private send(tag: string, lines: string[]): Promise<void> {
    if (!this.sender) return Promise.reject(new Error("no log sink yet"));
    const now = Date.now();
    return this.sender.send(
      tag,
      lines.map((line) => ({ timeMs: now, record: { log: line, source: "stdout" } })),
    );
  }

  private save(): void {
    const state = JSON.stringify([...this.tracked.values()]);
    if (state === this.saved) return;
    const tmp = `${this.options.stateFile}.tmp`;
    writeFileSync(tmp, state);
    renameSync(tmp, this.options.stateFile);
    this.saved = state;
  }
}
