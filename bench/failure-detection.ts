// Failure detection benchmark (issue 6, benchmark 4) with real processes: a
// real maro-master (default heartbeat 1 s, TTL 3 s) and real maro-agent
// processes (process runtime). Per run: node A starts, a one-component job runs
// on it, node B joins; then A's agent and its component processes get kill -9
// (a node losing power). Measured at the admin client (WatchEvents): time from
// the kill to the event "node A down", and to the job's component running on B
// (rescheduling). When the master does not move the job within 15 s, that
// column says "not yet".
// Usage: node --import tsx bench/failure-detection.ts   (BENCH_FAILURE_RUNS=5)
import type { JobSpec, MasterClient } from "@maro/proto";
import { type BenchPki, benchPki, type NodeCert } from "./lib/bench-pki.js";
import { EventWatch, stopJob, submitJob, waitReady } from "./lib/events.js";
import { MasterDaemon } from "./lib/master-daemon.js";
import { RealAgent } from "./lib/real-agent.js";
import { quantile, round, runBench, sleep, writeResult } from "./lib/report-io.js";

const RUNS = Number(process.env.BENCH_FAILURE_RUNS ?? 5);
const RESCHEDULE_WAIT_MS = 15_000;
const ANCHOR = "Nomad 20–30 s; Kubernetes ~50 s NotReady, ~5–6 min pod eviction";
const GOAL_DOWN_MS = 3_000;
const GOAL_MOVED_MS = 5_000;

interface Run {
  run: number;
  nodeDownMs: number | null;
  runningElsewhereMs: number | null;
}

function jobSpec(name: string): JobSpec {
  return {
    name,
    components: [
      {
        type: "w",
        resources: { cpuMillis: 500, memoryBytes: 32 * 2 ** 20, gpu: 0 },
        num: 1,
        command: ["sleep", "3600"],
        shell: false,
      },
    ],
  };
}

async function once(
  pki: BenchPki,
  master: MasterDaemon,
  client: MasterClient,
  watch: EventWatch,
  run: number,
  a: NodeCert,
  b: NodeCert,
): Promise<Run> {
  const agentOptions = { master: master.info.address, runtime: "process" as const, resources: "cpu=1,memory=1024m" };
  const nodeA = RealAgent.start(pki, { ...agentOptions, cert: a });
  let nodeB: RealAgent | null = null;
  const job = `fd-${run}`;
  try {
    await waitReady(client, [a.name], 20_000);
    const from = watch.seen.length;
    await submitJob(client, jobSpec(job));
    const onA = await watch.waitFor(
      (e) => e.kind === "component" && e.job === job && e.state === "running" && e.node === a.name,
      20_000,
      from,
    );
    if (!onA) throw new Error(`job ${job} did not start on ${a.name}:\n${nodeA.log().slice(-1500)}`);
    nodeB = RealAgent.start(pki, { ...agentOptions, cert: b });
    await waitReady(client, [b.name], 20_000);
    // Let a heartbeat or two go by, then cut node A at a random point of its heartbeat cycle.
    await sleep(1000 + Math.random() * 1000);
    const mark = watch.seen.length;
    const killedAt = performance.now();
    nodeA.killHard();
    const down = await watch.waitFor((e) => e.kind === "node" && e.node === a.name && e.state === "down", 30_000, mark);
    const moved = await watch.waitFor(
      (e) => e.kind === "component" && e.job === job && e.state === "running" && e.node === b.name,
      down ? Math.max(0, down.at - killedAt) + RESCHEDULE_WAIT_MS : 0,
      mark,
    );
    return {
      run,
      nodeDownMs: down ? Math.round(down.at - killedAt) : null,
      runningElsewhereMs: moved ? Math.round(moved.at - killedAt) : null,
    };
  } finally {
    await stopJob(client, job).catch(() => {});
    await nodeA.stop();
    await nodeB?.stop();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const pki = await benchPki();
  const certs = await pki.nodeCerts(RUNS * 2, "fd");
  const master = await MasterDaemon.start(pki, { heartbeatIntervalMs: 1000, heartbeatTtlMs: 3000 });
  const client = master.adminClient(pki);
  const watch = new EventWatch(client);
  const runs: Run[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const r = await once(pki, master, client, watch, i, certs[2 * i] as NodeCert, certs[2 * i + 1] as NodeCert);
      runs.push(r);
      console.error(
        `run ${i}: node down after ${r.nodeDownMs} ms, running elsewhere after ${r.runningElsewhereMs ?? "not yet"}`,
      );
    }
  } finally {
    watch.cancel();
    client.close();
    await master.stop();
  }
  const downs = runs.map((r) => r.nodeDownMs).filter((x): x is number => x !== null);
  const moved = runs.map((r) => r.runningElsewhereMs).filter((x): x is number => x !== null);
  const allMoved = moved.length === runs.length;
  const fmt = (xs: number[], q: number) => (xs.length > 0 ? String(Math.round(quantile(xs, q))) : "not yet");
  const downMet = downs.length === runs.length && quantile(downs, 1) <= GOAL_DOWN_MS;
  const movedMet = allMoved && quantile(moved, 1) <= GOAL_MOVED_MS;
  writeResult({
    benchmark: "failure-detection",
    title: "Failure detection: kill -9 of a node's agent and components (real master, real agents, process runtime)",
    anchor: ANCHOR,
    goal: `node down ≤ ${GOAL_DOWN_MS / 1000} s; job running elsewhere ≤ ${GOAL_MOVED_MS / 1000} s (every run)`,
    goalMet: allMoved ? downMet && movedMet : downMet ? null : false,
    notes:
      `${RUNS} runs; master defaults (heartbeat 1 s, TTL 3 s, checked every 100 ms). Times from the kill to the event's ` +
      "arrival at the admin client (WatchEvents). Node down can only come after the TTL since the last heartbeat, so " +
      `it falls between TTL − interval and TTL + 100 ms. Job moved: ${moved.length}/${runs.length} runs saw the ` +
      `component running on node B within ${RESCHEDULE_WAIT_MS / 1000} s of the node going down` +
      (allMoved ? "." : ' ("not yet": the master did not reschedule it).'),
    header: ["measure", "runs", "p50 ms", "max ms", "goal", "anchor"],
    table: [
      [
        "kill -9 → node down",
        String(runs.length),
        fmt(downs, 0.5),
        fmt(downs, 1),
        "≤ 3,000 ms",
        "Nomad 20–30 s; K8s ~50 s NotReady",
      ],
      [
        "kill -9 → job running elsewhere",
        `${moved.length}/${runs.length}`,
        allMoved ? fmt(moved, 0.5) : "not yet",
        allMoved ? fmt(moved, 1) : "not yet",
        "≤ 5,000 ms",
        "K8s ~5–6 min pod eviction",
      ],
    ],
    rows: runs,
    seconds: round((performance.now() - started) / 1000, 1),
  });
}

runBench(main);
