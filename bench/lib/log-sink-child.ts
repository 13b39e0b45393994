// The sink under test, alone in its own process so its CPU and memory can be
// measured apart from the clients: a ForwardServer storing into a LogStore.
// Talks to the parent over the fork IPC channel.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ForwardServer, LogStore, storeEvents } from "../../packages/master/src/logs/index.js";

export interface SinkSample {
  events: number;
  bytes: number;
  /** CPU microseconds (user + system) since the process started. */
  cpuMicros: number;
  rssBytes: number;
  /** Highest RSS seen since the last "reset". */
  peakRssBytes: number;
  /** When the first and the latest event were stored (ms since the epoch), 0 if none. */
  firstEventMs: number;
  lastEventMs: number;
}

export type ChildRequest = { cmd: "sample" } | { cmd: "reset" } | { cmd: "exit" };
export type ChildMessage = { kind: "ready"; port: number; dir: string } | { kind: "sample"; sample: SinkSample };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "maro-bench-sink-"));
  const store = new LogStore({ dir, fsync: !process.argv.includes("--no-fsync") });
  const append = storeEvents(store);
  let firstEventMs = 0;
  let lastEventMs = 0;
  const server = new ForwardServer({
    host: "127.0.0.1",
    port: 0,
    authorize: (addr) => addr === "127.0.0.1",
    onEvents: async (tag, events) => {
      await append(tag, events);
      lastEventMs = Date.now();
      if (firstEventMs === 0) firstEventMs = lastEventMs;
    },
    log: { warn: (msg, fields) => process.stderr.write(`sink: ${msg} ${JSON.stringify(fields ?? {})}\n`) },
  });
  const { port } = await server.start();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  const sample = (): SinkSample => {
    const cpu = process.cpuUsage();
    const rss = process.memoryUsage.rss();
    peak = Math.max(peak, rss);
    const stats = server.stats();
    return {
      events: stats.events,
      bytes: stats.bytes,
      cpuMicros: cpu.user + cpu.system,
      rssBytes: rss,
      peakRssBytes: peak,
      firstEventMs,
      lastEventMs,
    };
  };
  const send = (message: ChildMessage) => process.send?.(message);
  process.on("message", async (request: ChildRequest) => {
    if (request.cmd === "sample") send({ kind: "sample", sample: sample() });
    else if (request.cmd === "reset") {
      peak = process.memoryUsage.rss();
      firstEventMs = 0;
      lastEventMs = 0;
      send({ kind: "sample", sample: sample() });
    } else {
      clearInterval(sampler);
      await server.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  send({ kind: "ready", port, dir });
}

void main();
