// Agent footprint benchmark (issue 6, benchmark 6): RSS and CPU of one real
// maro-agent process (sampling resources every 1 s) connected to a real
// maro-master, with 0 and with 20 running components, on the process runtime
// (`sleep`) and on the docker runtime (busybox `sleep`). Only the agent's own
// process is measured (/proc/<pid>), not its components.
// Usage: node --import tsx bench/agent-footprint.ts
//   (BENCH_FOOTPRINT_SECONDS=15, BENCH_FOOTPRINT_DOCKER=0 to skip the docker rows)
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { JobSpec, MasterClient } from "@maro/proto";
import { type BenchPki, benchPki, type NodeCert } from "./lib/bench-pki.js";
import { EventWatch, stopJob, submitJob, waitReady } from "./lib/events.js";
import { MasterDaemon } from "./lib/master-daemon.js";
import { coreShare, mib, procSample, RssWatcher } from "./lib/proc-stat.js";
import { topFrames } from "./lib/profile.js";
import { agentHasSampleInterval, RealAgent } from "./lib/real-agent.js";
import { PROFILES_DIR, type ProfileFrame, round, runBench, sleep, writeResult } from "./lib/report-io.js";

const WINDOW_S = Number(process.env.BENCH_FOOTPRINT_SECONDS ?? 10);
const SETTLE_S = 3;
const DOCKER = process.env.BENCH_FOOTPRINT_DOCKER !== "0" && existsSync("/run/maro-test/docker.sock");
const ANCHOR = "kubelet ~200 MiB RSS and ~0.1 core at rest";
const GOAL_RSS_BYTES = 50e6;
const GOAL_CORES = 0.02;

interface Row {
  runtime: string;
  components: number;
  seconds: number;
  cores: number;
  meanRssMiB: number;
  maxRssMiB: number;
  sampleIntervalMs: number | null;
}

function jobSpec(name: string, image: string): JobSpec {
  return {
    name,
    components: [
      {
        type: "w",
        image,
        resources: { cpuMillis: 50, memoryBytes: 16 * 2 ** 20, gpu: 0 },
        num: 20,
        command: ["sleep", "3600"],
        shell: false,
      },
    ],
  };
}

async function measure(pid: number): Promise<{ cores: number; meanRss: number; maxRss: number; seconds: number }> {
  const watcher = new RssWatcher(pid, 250);
  const a = procSample(pid);
  await sleep(WINDOW_S * 1000);
  const b = procSample(pid);
  const rss = watcher.stop();
  return {
    cores: coreShare(a, b),
    meanRss: rss.meanRssBytes,
    maxRss: rss.maxRssBytes,
    seconds: (b.atMs - a.atMs) / 1000,
  };
}

async function runtimeRows(
  pki: BenchPki,
  master: MasterDaemon,
  client: MasterClient,
  watch: EventWatch,
  cert: NodeCert,
  runtime: "process" | "docker",
  profileDir?: string,
): Promise<Row[]> {
  const agent = RealAgent.start(pki, {
    ...(profileDir ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] } : {}),
    master: master.info.address,
    cert,
    runtime,
    resources: "cpu=2,memory=4096m",
    sampleIntervalMs: 1000,
    ...(runtime === "docker" ? { dockerHost: "unix:///run/maro-test/docker.sock" } : {}),
  });
  const rows: Row[] = [];
  const row = (components: number, m: Awaited<ReturnType<typeof measure>>): Row => ({
    runtime,
    components,
    seconds: round(m.seconds, 1),
    cores: round(m.cores, 4),
    meanRssMiB: mib(m.meanRss),
    maxRssMiB: mib(m.maxRss),
    sampleIntervalMs: agentHasSampleInterval() ? 1000 : null,
  });
  const job = `footprint-${runtime}`;
  try {
    await waitReady(client, [cert.name], 30_000);
    await sleep(SETTLE_S * 1000);
    rows.push(row(0, await measure(agent.pid)));
    const from = watch.seen.length;
    await submitJob(client, jobSpec(job, runtime === "docker" ? "maro/busybox:test" : ""));
    const running = await watch.waitFor(
      (e) => e.kind === "job" && e.job === job && e.state === "running",
      120_000,
      from,
    );
    if (!running) throw new Error(`the 20-component job did not run on ${runtime}:\n${agent.log().slice(-1500)}`);
    await sleep(SETTLE_S * 1000);
    rows.push(row(20, await measure(agent.pid)));
    console.error(
      `${runtime}: ${rows.map((r) => `${r.components} comp. ${r.maxRssMiB} MiB ${r.cores} cores`).join(", ")}`,
    );
    return rows;
  } finally {
    await stopJob(client, job).catch(() => {});
    await sleep(500);
    await agent.stop();
  }
}

/** RSS of a bare Node.js process with one timer: the floor under any Node daemon. */
async function bareNodeRssMiB(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await sleep(1500);
  const rss = child.pid ? procSample(child.pid).rssBytes : 0;
  child.kill("SIGKILL");
  return mib(rss);
}

async function main(): Promise<void> {
  const started = performance.now();
  const pki = await benchPki();
  const certs = await pki.nodeCerts(3, "footprint");
  const bare = await bareNodeRssMiB();
  const master = await MasterDaemon.start(pki, { stopGraceSeconds: 0 });
  const client = master.adminClient(pki);
  const watch = new EventWatch(client);
  const rows: Row[] = [];
  try {
    rows.push(...(await runtimeRows(pki, master, client, watch, certs[0] as NodeCert, "process")));
    if (DOCKER) rows.push(...(await runtimeRows(pki, master, client, watch, certs[1] as NodeCert, "docker")));
  } finally {
    watch.cancel();
    client.close();
    await master.stop();
  }
  const met = rows.every((r) => r.maxRssMiB * 2 ** 20 <= GOAL_RSS_BYTES && r.cores <= GOAL_CORES);
  // A missed goal gets a CPU profile of the agent: process runtime, 20 components, a second run.
  let profile: ProfileFrame[] | undefined;
  if (!met) {
    const dir = join(PROFILES_DIR, "agent-footprint");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const again = await MasterDaemon.start(pki, { stopGraceSeconds: 0 });
    const c2 = again.adminClient(pki);
    const w2 = new EventWatch(c2);
    try {
      await runtimeRows(pki, again, c2, w2, certs[2] as NodeCert, "process", dir);
    } finally {
      w2.cancel();
      c2.close();
      await again.stop();
    }
    profile = topFrames(dir, 12);
  }
  writeResult({
    benchmark: "agent-footprint",
    title: "Agent footprint: one maro-agent process, sampling every 1 s",
    anchor: ANCHOR,
    goal: "≤ 50 MB RSS and ≤ 2% of a core",
    goalMet: met,
    notes:
      `RSS sampled every 250 ms and CPU (utime+stime) over a ${WINDOW_S} s window, agent process only (not its ` +
      `components), ${SETTLE_S} s after it registered / after the job was running. ` +
      (agentHasSampleInterval()
        ? "The agent ran with --sample-interval 1000."
        : "This maro-agent build has no --sample-interval: run with its defaults.") +
      (DOCKER ? "" : " Docker rows skipped (no test dockerd socket).") +
      ` For scale: a bare Node.js ${process.version} process with one timer has ${bare} MiB RSS here.` +
      (profile ? " The profile (top frames) is of the agent, process runtime, 20 components, over a second run." : ""),
    header: ["runtime", "components", "window s", "agent cores", "mean RSS MiB", "max RSS MiB", "goal", "anchor"],
    table: rows.map((r) => [
      r.runtime,
      String(r.components),
      String(r.seconds),
      `${r.cores} (${round(r.cores * 100, 2)}%)`,
      String(r.meanRssMiB),
      String(r.maxRssMiB),
      "≤ 50 MB (47.7 MiB), ≤ 2%",
      "kubelet ~200 MiB, 0.1 core",
    ]),
    rows,
    ...(profile ? { profile } : {}),
    seconds: round((performance.now() - started) / 1000, 1),
  });
}

runBench(main);
