// Master fan-in benchmark (issue 6, benchmark 3): 1,000 / 5,000 / 10,000
// simulated agents on one real maro-master, each on its own gRPC stream with
// its own node certificate (mTLS), heartbeating every heartbeat_interval_ms
// (1 s, from Registered) and sending a ResourceSample every second (full every
// 10th, deltas between). The agents run in several client processes
// (bench/lib/fan-in-worker.ts); the master in its own, so its CPU and RSS are
// read from /proc/<pid>. Heartbeat processing lag = round trip from a
// Heartbeat to the master's Pong (or, while the master sends no Pong, a probe
// through the same ordered per-agent chain: see fan-in-worker.ts).
// Usage: node --import tsx bench/fan-in.ts   (BENCH_FANIN_SIZES=1000,5000,10000  BENCH_FANIN_SECONDS=10  BENCH_FANIN_PROFILE=1)
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ClusterEventOut, MasterClient } from "@maro/proto";
import { BENCH_CLUSTER, type BenchPki, benchPki } from "./lib/bench-pki.js";
import type { WorkerMessage, WorkerReport, WorkerRequest } from "./lib/fan-in-worker.js";
import { MasterDaemon } from "./lib/master-daemon.js";
import { coreShare, mib, procSample } from "./lib/proc-stat.js";
import { topFrames } from "./lib/profile.js";
import { PROFILES_DIR, type ProfileFrame, quantile, round, sleep, until, writeResult } from "./lib/report-io.js";

const SIZES = (process.env.BENCH_FANIN_SIZES ?? "1000,5000,10000").split(",").map(Number);
const WINDOW_S = Number(process.env.BENCH_FANIN_SECONDS ?? 10);
const SETTLE_S = 3;
/** Agents connecting at once (TLS handshake + Register not yet answered), over all client processes. */
const MAX_PENDING = 200;
/** Seconds the agents get to register before the window is measured anyway. */
const CONNECT_DEADLINE_S = Number(process.env.BENCH_FANIN_CONNECT_DEADLINE ?? 60);
const CONNECT_PER_S = Number(process.env.BENCH_FANIN_CONNECT_RATE ?? 500);
const ANCHOR = "Nomad: 10,000+ clients per server cluster; kubelet node status every 10 s (lease 40 s)";
const GOAL = "10,000 agents on one master under one core";

interface Row {
  agents: number;
  workers: number;
  /** Agents the master registered by the connect deadline. */
  registered: number;
  neverRegistered: number;
  masterCores: number;
  redisCores: number;
  masterRssMiB: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  lagMeasure: string;
  answered: number;
  heartbeatsSent: number;
  /** Nodes the master marked down while the agents were connecting / during the measured window. */
  downsWhileConnecting: number;
  nodesMarkedDown: number;
  /** Agents registered and still connected at the end. */
  liveAtEnd: number;
  clientLoopDelayP99Ms: number;
  connectSeconds: number;
}

class Worker {
  private waiting: ((r: WorkerReport) => void)[] = [];
  private onPrepared: (() => void) | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (m: WorkerMessage) => {
      if (m.kind === "report") this.waiting.shift()?.(m.report);
      else if (m.kind === "prepared") this.onPrepared?.();
    });
  }

  static start(): Promise<Worker> {
    const child = fork(join(import.meta.dirname, "lib", "fan-in-worker.ts"), [], {
      execArgv: ["--import", "tsx", "--max-old-space-size=4096"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("message", (m: WorkerMessage) => (m.kind === "ready" ? resolve(new Worker(child)) : undefined));
    });
  }

  send(req: WorkerRequest): void {
    this.child.send(req);
  }

  /** Loads the agents' certificates and builds their TLS contexts (agent start-up, before the connect phase). */
  prepare(from: number, count: number): Promise<void> {
    return new Promise((resolve) => {
      this.onPrepared = resolve;
      this.send({ cmd: "prepare", from, count });
    });
  }

  /** Counts; with full, also every round trip measured since the last reset. */
  report(full = false): Promise<WorkerReport> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.send({ cmd: "report", full });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      const kill = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      this.child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      this.send({ cmd: "exit" });
    });
  }
}

async function reports(workers: Worker[], full = false): Promise<WorkerReport[]> {
  return Promise.all(workers.map((w) => w.report(full)));
}

function watchDowns(client: MasterClient): { count: () => number; cancel: () => void } {
  let downs = 0;
  const call = client.WatchEvents({ job: "" });
  call.on("data", (e: ClusterEventOut) => {
    if (e.kind === "node" && e.state === "down") downs++;
  });
  call.on("error", () => {});
  return { count: () => downs, cancel: () => call.cancel() };
}

async function runSize(
  pki: BenchPki,
  agents: number,
  profileDir: string | null,
  connectDeadlineS = CONNECT_DEADLINE_S,
): Promise<Row> {
  const workerCount = agents <= 1000 ? 1 : agents <= 5000 ? 2 : 4;
  const master = await MasterDaemon.start(pki, {
    heartbeatIntervalMs: 1000,
    heartbeatTtlMs: 3000,
    ...(profileDir ? { cpuProfDir: profileDir } : {}),
  });
  const workers: Worker[] = [];
  const client = master.adminClient(pki);
  const downs = watchDowns(client);
  try {
    for (let i = 0; i < workerCount; i++) workers.push(await Worker.start());
    const share = Math.ceil(agents / workerCount);
    await Promise.all(workers.map((w, i) => w.prepare(i * share, Math.min(share, agents - i * share))));
    const t0 = performance.now();
    for (const [i, w] of workers.entries())
      w.send({
        cmd: "start",
        address: master.info.address,
        cluster: BENCH_CLUSTER,
        from: i * share,
        count: Math.min(share, agents - i * share),
        connectPerSecond: CONNECT_PER_S / workerCount,
        maxPending: Math.ceil(MAX_PENDING / workerCount),
      });
    let registered = 0;
    let refused = 0;
    // Measure with whatever registered by the deadline: a master too slow to register everyone is a result too.
    await until(
      async () => {
        const now = await reports(workers);
        registered = now.reduce((n, r) => n + r.registered, 0);
        refused = now.reduce((n, r) => n + r.neverRegistered, 0);
        return registered + refused >= agents ? true : null;
      },
      connectDeadlineS * 1000,
      `${agents} agents registered`,
      500,
    ).catch(() => console.error(`connect deadline: ${registered} of ${agents} registered in ${connectDeadlineS} s`));
    const connectSeconds = (performance.now() - t0) / 1000;
    console.error(`${registered} agents registered in ${connectSeconds.toFixed(1)} s; ${refused} failed to`);
    await sleep(SETTLE_S * 1000);
    for (const w of workers) w.send({ cmd: "reset" });
    const downsBefore = downs.count();
    const m0 = procSample(master.pid);
    const r0 = master.info.redisPid ? procSample(master.info.redisPid) : null;
    await sleep(WINDOW_S * 1000);
    const m1 = procSample(master.pid);
    const r1 = master.info.redisPid ? procSample(master.info.redisPid) : null;
    const end = await reports(workers, true);
    const rtts = end.flatMap((r) => r.rtts);
    const modes = new Set(end.map((r) => r.mode));
    const reasons = end.flatMap((r) => r.endReasons);
    if (reasons.length > 0) console.error(`agents ended: ${reasons.slice(0, 3).join("; ")}`);
    return {
      agents,
      workers: workerCount,
      registered: end.reduce((n, r) => n + r.registered, 0),
      neverRegistered: end.reduce((n, r) => n + r.neverRegistered, 0),
      liveAtEnd: end.reduce((n, r) => n + r.registered - (r.ended - r.neverRegistered), 0),
      downsWhileConnecting: downsBefore,
      masterCores: round(coreShare(m0, m1), 3),
      redisCores: r0 && r1 ? round(coreShare(r0, r1), 3) : 0,
      masterRssMiB: mib(m1.rssBytes),
      lagP50Ms: round(quantile(rtts, 0.5), 1),
      lagP99Ms: round(quantile(rtts, 0.99), 1),
      lagMaxMs: round(quantile(rtts, 1), 1),
      lagMeasure: modes.has("pong") ? "Heartbeat→Pong" : modes.has("probe") ? "probe→Stop (no Pong yet)" : "none",
      answered: rtts.length,
      heartbeatsSent: end.reduce((n, r) => n + r.heartbeatsSent, 0),
      nodesMarkedDown: downs.count() - downsBefore,
      clientLoopDelayP99Ms: round(Math.max(...end.map((r) => r.loopDelayP99Ms)), 1),
      connectSeconds: round(connectSeconds, 1),
    };
  } finally {
    downs.cancel();
    client.close();
    await Promise.all(workers.map((w) => w.stop()));
    await master.stop();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const pki = await benchPki();
  await pki.nodeCerts(Math.max(...SIZES));
  const rows: Row[] = [];
  const errors: string[] = [];
  for (const n of SIZES) {
    try {
      rows.push(await runSize(pki, n, null));
    } catch (err) {
      errors.push(`${n} agents: ${err instanceof Error ? err.message : String(err)}`);
      console.error(errors.at(-1));
      continue;
    }
    const r = rows.at(-1) as Row;
    console.error(`${n} agents: master ${r.masterCores} cores, lag p99 ${r.lagP99Ms} ms, down ${r.nodesMarkedDown}`);
  }
  const largest = rows.find((r) => r.agents === 10_000);
  const met = errors.some((e) => e.startsWith("10000 "))
    ? false
    : largest
      ? largest.masterCores < 1 && largest.nodesMarkedDown === 0 && largest.liveAtEnd === largest.agents
      : null;
  let profile: ProfileFrame[] | undefined;
  // The profiled second run at the largest size costs minutes: only when asked for.
  if (process.env.BENCH_FANIN_PROFILE === "1") {
    const dir = join(PROFILES_DIR, "fan-in");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // The master writes its profile when stopped, even if this run did not complete.
    await runSize(pki, Math.max(...SIZES), dir, 45).catch((err) => console.error(`profiled run: ${String(err)}`));
    profile = topFrames(dir, 12);
  }
  writeResult({
    benchmark: "fan-in",
    title: "Master fan-in: simulated agents heartbeating (1 s) and sending resource samples (1 Hz)",
    anchor: ANCHOR,
    goal: `${GOAL} (and no node marked down)`,
    goalMet: met,
    notes:
      `Each size on a fresh master (heartbeat 1 s, TTL 3 s). Agents connect at up to ${CONNECT_PER_S}/s with at most ` +
      `${MAX_PENDING} waiting for Registered at a time (connect s = time until all registered, or the ${CONNECT_DEADLINE_S} s deadline after which the window is measured with those registered); settle ${SETTLE_S} s, ` +
      `then a ${WINDOW_S} s window is measured: master CPU = (utime+stime) delta of the maro-master process / wall ` +
      "time (its redis-server apart), RSS at the end. Lag = round trip measured in the client processes, so it " +
      "includes their own event-loop delay (client loop p99 column). Agents run in 1/2/4 client processes sharing " +
      "the 2 cores with the master. Simulated agents do not reconnect: a node marked down stays down (live at end)." +
      (profile ? " The profile is of a second run at the largest size." : "") +
      (errors.length > 0 ? ` Sizes that did not complete: ${errors.join("; ")}.` : ""),
    header: [
      "agents",
      "client procs",
      "registered",
      "never registered",
      "live at end",
      "master cores",
      "redis cores",
      "master RSS MiB",
      "lag p50 ms",
      "lag p99 ms",
      "lag max ms",
      "lag measured as",
      "marked down (connect / window)",
      "client loop p99 ms",
      "connect s",
      "anchor",
    ],
    table: rows.map((r) => [
      r.agents.toLocaleString("en"),
      String(r.workers),
      String(r.registered),
      String(r.neverRegistered),
      String(r.liveAtEnd),
      String(r.masterCores),
      String(r.redisCores),
      String(r.masterRssMiB),
      String(r.lagP50Ms),
      String(r.lagP99Ms),
      String(r.lagMaxMs),
      r.lagMeasure,
      `${r.downsWhileConnecting} / ${r.nodesMarkedDown}`,
      String(r.clientLoopDelayP99Ms),
      String(r.connectSeconds),
      "Nomad 10k+ clients/cluster",
    ]),
    rows,
    ...(profile ? { profile } : {}),
    seconds: round((performance.now() - started) / 1000, 1),
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
