// One client process of the fan-in benchmark: a slice of simulated agents
// (bench/lib/sim-agent.ts) that register, heartbeat every heartbeat_interval_ms
// and send a ResourceSample every second. It measures the round trip from each
// Heartbeat to the master's Pong; when the master answers no heartbeat with a
// Pong, it falls back to a probe that goes through the same ordered per-agent
// message chain: a ContainerStatus "running" for a container the master does
// not know, which the master answers with StopContainer.
// Talks to bench/fan-in.ts over the fork IPC channel.
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { SecureContext } from "node:tls";
import { type BenchPki, benchPki, type NodeCert } from "./bench-pki.js";
import { sleep } from "./report-io.js";
import { agentSecureContext, SimAgent } from "./sim-agent.js";

export type WorkerRequest =
  | { cmd: "prepare"; from: number; count: number }
  | {
      cmd: "start";
      address: string;
      cluster: string;
      from: number;
      count: number;
      connectPerSecond: number;
      /** At most this many agents of this worker connecting (not yet registered) at a time. */
      maxPending: number;
    }
  | { cmd: "reset" }
  | { cmd: "report"; full: boolean }
  | { cmd: "exit" };

export interface WorkerReport {
  registered: number;
  /** Agents whose stream ended before the master registered them. */
  neverRegistered: number;
  ended: number;
  endReasons: string[];
  mode: "pong" | "probe" | "none";
  /** Round trips (ms) answered since the last reset. */
  rtts: number[];
  heartbeatsSent: number;
  /** Probes (or heartbeats) sent since the last reset that got no answer yet. */
  unanswered: number;
  loopDelayP99Ms: number;
}

export type WorkerMessage = { kind: "ready" } | { kind: "prepared" } | { kind: "report"; report: WorkerReport };

const PROBE_EVERY = 5;

async function main(): Promise<void> {
  const pki: BenchPki = await benchPki();
  const agents: SimAgent[] = [];
  const endReasons: string[] = [];
  let rtts: number[] = [];
  let pongs = 0;
  let mode: WorkerReport["mode"] = "none";
  const probes = new Map<string, number>();
  let probeSeq = 0;
  let heartbeatsAtReset = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const send = (m: WorkerMessage) => process.send?.(m);

  // Each agent's own TLS context, built before the connect phase as a real agent builds it when it starts.
  let prepared: { cert: NodeCert; context: SecureContext }[] = [];
  const prepare = async (from: number, count: number) => {
    const certs: NodeCert[] = (await pki.nodeCerts(from + count)).slice(from);
    prepared = certs.map((cert) => ({ cert, context: agentSecureContext(pki.ca.certPem, cert) }));
  };
  let pending = 0;

  const start = async (req: Extract<WorkerRequest, { cmd: "start" }>) => {
    if (prepared.length !== req.count) await prepare(req.from, req.count);
    const batch = Math.max(1, Math.round(req.connectPerSecond / 20));
    for (const { cert, context } of prepared) {
      pending++;
      let waiting = true;
      const settle = () => {
        if (waiting) pending--;
        waiting = false;
      };
      const agent = new SimAgent({
        address: req.address,
        caPem: pki.ca.certPem,
        cert,
        secureContext: context,
        cluster: req.cluster,
        allocatable: { cpuMillis: 32_000, memoryBytes: 128 * 2 ** 30, gpu: 0 },
        sampleIntervalMs: 1000,
        hooks: {
          onPong: (rtt) => {
            pongs++;
            mode = "pong";
            rtts.push(rtt);
          },
          onStop: (_a, name) => {
            const sent = probes.get(name);
            if (sent === undefined) return;
            probes.delete(name);
            rtts.push(performance.now() - sent);
          },
          onEnded: (a, reason) => {
            settle();
            if (reason !== "closed" && endReasons.length < 5)
              endReasons.push(`${a.registered ? "" : "before registering: "}${reason}`);
          },
          onRegistered: (a) => {
            settle();
            // Fallback probe, every PROBE_EVERY heartbeat intervals, once it is clear no Pong comes.
            let tick = 0;
            const timer = setInterval(() => {
              if (a.ended) return clearInterval(timer);
              if (pongs > 0) return clearInterval(timer);
              if (++tick < 3 || tick % PROBE_EVERY !== 0) return;
              mode = "probe";
              const name = `probe-${a.name}-${probeSeq++}`;
              probes.set(name, performance.now());
              a.running(name, "", "");
            }, a.heartbeatIntervalMs);
          },
        },
      });
      agents.push(agent);
      if (agents.length % batch === 0) await sleep(50);
      // Closed loop: connect no faster than the master registers.
      while (pending >= req.maxPending) await sleep(20);
    }
    prepared = [];
  };

  process.on("message", async (req: WorkerRequest) => {
    if (req.cmd === "prepare") {
      await prepare(req.from, req.count);
      send({ kind: "prepared" });
    } else if (req.cmd === "start") {
      await start(req);
    } else if (req.cmd === "reset") {
      rtts = [];
      probes.clear();
      loop.reset();
      heartbeatsAtReset = agents.reduce((n, a) => n + a.heartbeatsSent, 0);
    } else if (req.cmd === "report") {
      send({
        kind: "report",
        report: {
          registered: agents.filter((a) => a.registered).length,
          neverRegistered: agents.filter((a) => a.ended && !a.registered).length,
          ended: agents.filter((a) => a.ended).length,
          endReasons,
          mode,
          rtts: req.full ? rtts : [],
          heartbeatsSent: agents.reduce((n, a) => n + a.heartbeatsSent, 0) - heartbeatsAtReset,
          unanswered: mode === "probe" ? probes.size : 0,
          loopDelayP99Ms: loop.percentile(99) / 1e6,
        },
      });
    } else {
      for (const a of agents) a.close();
      await sleep(100);
      process.exit(0);
    }
  });
  // The benchmark went away: nothing else would stop these agents.
  process.on("disconnect", () => process.exit(0));
  send({ kind: "ready" });
}

void main();
