// Log-sink benchmark: events per second per core of the master's Fluentd-compatible
// sink (ForwardServer + LogStore, fsync per batch), through real clients:
//   a) the fluent-logger npm package, PackedForward with acks, ~100-byte events
//   b) Docker's fluentd log driver (fluentd-async), a busybox container printing lines
//      as fast as it can, with fluentd-request-ack (what maro's docker runtime uses),
//      and without it.
// The sink runs in its own process; its CPU time and peak RSS are measured there.
// A last row repeats Docker + acks with the store's fsync off, to show what durability costs there.
// Usage: node --import tsx bench/log-sink.ts   (BENCH_EVENTS, BENCH_DOCKER_LINES override sizes)
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fluentLogger from "fluent-logger";
import { SinkProcess, type SinkSample } from "./lib/sink-process.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const ANCHOR = "Fluentd ~13,000 events/s per core";
const EVENTS = Number(process.env.BENCH_EVENTS ?? 600_000);
const DOCKER_LINES = Number(process.env.BENCH_DOCKER_LINES ?? 100_000);

interface Row {
  scenario: string;
  events: number;
  stored: number;
  seconds: number;
  eventsPerSecond: number;
  sinkCpuSeconds: number;
  eventsPerCpuSecond: number;
  sinkPeakRssMiB: number;
  /** RSS of the sink process before the scenario (idle Node + tsx + sink). */
  sinkStartRssMiB: number;
  anchor: string;
}

function row(scenario: string, events: number, seconds: number, before: SinkSample, after: SinkSample): Row {
  const cpu = (after.cpuMicros - before.cpuMicros) / 1e6;
  const stored = after.events - before.events;
  return {
    scenario,
    events,
    stored,
    seconds: round(seconds, 2),
    eventsPerSecond: Math.round(stored / seconds),
    sinkCpuSeconds: round(cpu, 2),
    eventsPerCpuSecond: Math.round(stored / cpu),
    sinkPeakRssMiB: round(after.peakRssBytes / 2 ** 20, 1),
    sinkStartRssMiB: round(before.rssBytes / 2 ** 20, 1),
    anchor: ANCHOR,
  };
}

function round(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

/** a) fluent-logger, PackedForward with acks: 4 senders (4 containers), batches of 1000, 2 batches in flight each. */
async function fluentLoggerScenario(): Promise<Row> {
  const sink = await SinkProcess.start();
  try {
    const senders = 4;
    const batch = 1000;
    const padding = "p".repeat(64);
    const before = await sink.reset();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: senders }, async (_, k) => {
        const sender = fluentLogger.createFluentSender<Record<string, unknown>>(`maro.bench.fl${k}`, {
          host: "127.0.0.1",
          port: sink.port,
          eventMode: "PackedForward",
          requireAckResponse: true,
          flushInterval: 1,
          sendQueueSizeLimit: batch * 90,
          internalLogger: { info() {}, error: (m: unknown) => console.error(m) },
          enableReconnect: false,
        } as fluentLogger.Options);
        const share = Math.floor(EVENTS / senders);
        const inFlight: Promise<void>[] = [];
        for (let sent = 0; sent < share; ) {
          const n = Math.min(batch, share - sent);
          for (let i = 0; i < n - 1; i++) sender.emit({ log: `event ${sent + i} ${padding}`, source: "stdout" });
          inFlight.push(
            new Promise((resolve, reject) =>
              sender.emit({ log: `event ${sent + n - 1} ${padding}`, source: "stdout" }, (err) =>
                err ? reject(err) : resolve(),
              ),
            ),
          );
          sent += n;
          if (inFlight.length >= 2) await inFlight.shift();
        }
        await Promise.all(inFlight);
        (sender as unknown as { end(label: null, data: null, cb: () => void): void }).end(null, null, () => {});
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const after = await sink.sample();
    return row("fluent-logger PackedForward, acks", Math.floor(EVENTS / senders) * senders, seconds, before, after);
  } finally {
    await sink.stop();
  }
}

/**
 * b) Docker's fluentd driver: a busybox container printing `lines` lines as fast as it can.
 * With fluentd-async Docker drops what is still buffered when a container stops (moby#40063),
 * so the container stays up until the sink has every line, then is removed.
 */
async function dockerScenario(env: NodeJS.ProcessEnv, acks: boolean, lines: number, fsync = true): Promise<Row> {
  const sink = await SinkProcess.start({ fsync });
  const name = `maro-bench-log-sink-${process.pid}-${acks ? "acks" : "noacks"}-${fsync ? "fsync" : "nofsync"}`;
  try {
    const line = `docker line ${"d".repeat(80)}`;
    const before = await sink.reset();
    const started = performance.now();
    const options = [
      `fluentd-address=127.0.0.1:${sink.port}`,
      "tag=maro.bench.docker",
      "fluentd-async=true",
      `fluentd-buffer-limit=${lines * 2}`,
      ...(acks ? ["fluentd-request-ack=true"] : []),
    ];
    await run(
      "docker",
      [
        "run",
        "--detach",
        "--rm",
        "--name",
        name,
        "--network",
        "none",
        "--log-driver",
        "fluentd",
        ...options.flatMap((o) => ["--log-opt", o]),
        "maro/busybox:test",
        "sh",
        "-c",
        `yes '${line}' | head -n ${lines}; exec sleep 600`,
      ],
      { env },
    );
    const after = await sink.waitForEvents(before.events + lines, 30_000);
    const seconds = (performance.now() - started) / 1000;
    await run("docker", ["rm", "--force", name], { env }).catch(() => {});
    const scenario = `Docker fluentd driver, async${acks ? " + acks" : ", no acks"}${fsync ? "" : ", store fsync off"}`;
    return row(scenario, lines, seconds, before, after);
  } finally {
    await run("docker", ["rm", "--force", name], { env }).catch(() => {});
    await sink.stop();
  }
}

function table(rows: Row[]): string {
  const head = [
    "scenario",
    "events",
    "stored",
    "seconds",
    "events/s",
    "sink CPU-s",
    "events/CPU-s",
    "sink RSS MiB",
    "anchor",
  ];
  const body = rows.map((r) => [
    r.scenario,
    String(r.events),
    String(r.stored),
    r.seconds.toFixed(2),
    String(r.eventsPerSecond),
    r.sinkCpuSeconds.toFixed(2),
    String(r.eventsPerCpuSecond),
    r.sinkPeakRssMiB.toFixed(1),
    r.anchor,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("-|-"), ...body.map(fmt)].join("\n");
}

async function main(): Promise<void> {
  const dockerHost = execFileSync("bash", [join(root, "scripts/lib/test-dockerd.sh"), "start"], {
    encoding: "utf8",
  }).trim();
  const env = { ...process.env, DOCKER_HOST: dockerHost };
  const rows: Row[] = [];
  rows.push(await fluentLoggerScenario());
  // With acks Docker sends one line per round trip (each a durable write): far fewer lines.
  rows.push(await dockerScenario(env, true, Math.min(DOCKER_LINES, 5_000)));
  rows.push(await dockerScenario(env, true, Math.min(DOCKER_LINES, 10_000), false));
  rows.push(await dockerScenario(env, false, DOCKER_LINES));
  console.log(table(rows));
  const out = join(root, "bench/results");
  mkdirSync(out, { recursive: true });
  const result = {
    benchmark: "log-sink",
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "",
    loadAverage: loadavg().map((x) => round(x, 2)),
    notes:
      "Sink = ForwardServer + LogStore in its own process, run under tsx (each batch written with O_DSYNC before acking). " +
      "events/CPU-s = stored events / sink CPU seconds (user+system), i.e. events per second per core. " +
      "With fluentd-request-ack Docker's driver sends one event per round trip, so each line costs a durable write; " +
      "'store fsync off' acks once written to the OS (survives a master crash, not a machine crash). " +
      "The machine is shared: figures vary with its load (see loadAverage).",
    rows,
  };
  writeFileSync(join(out, "log-sink.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${join(out, "log-sink.json")}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
