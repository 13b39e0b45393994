// Job start latency on the real Docker engine (issue 6, benchmark 5): a real
// maro-master and two real maro-agent processes on the docker runtime; a
// 10-component job (image maro/busybox:test, warm) submitted over gRPC; time
// from the SubmitJob call to the job's "running" event at the admin client
// (every container started and reported running). 20 runs, each job stopped
// and gone before the next.
// Starts its own dockerd (scripts/lib/test-dockerd.sh) only when none runs,
// and then stops only that one, by its PID.
// Usage: node --import tsx bench/docker-start.ts   (BENCH_DOCKER_RUNS=20)
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { JobSpec } from "@maro/proto";
import { benchPki } from "./lib/bench-pki.js";
import { EventWatch, stopJob, submitJob, waitReady } from "./lib/events.js";
import { MasterDaemon } from "./lib/master-daemon.js";
import { RealAgent } from "./lib/real-agent.js";
import { BENCH_ROOT, quantile, round, runBench, sleep, writeResult } from "./lib/report-io.js";

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_DOCKER_RUNS ?? 20);
const COMPONENTS = 10;
const RAW_RUNS = Number(process.env.BENCH_DOCKER_RAW_RUNS ?? 5);
const SOCKET = "/run/maro-test/docker.sock";
const PIDFILE = "/run/maro-test/dockerd.pid";
const ANCHOR = "Kubernetes pod startup SLO: p99 ≤ 5 s (stateless pods, pre-pulled images)";
const GOAL_P99_MS = 1_500;

function dockerdPid(): number | null {
  try {
    const pid = Number(readFileSync(PIDFILE, "utf8").trim());
    process.kill(pid, 0);
    return existsSync(SOCKET) ? pid : null;
  } catch {
    return null;
  }
}

/** Starts the test dockerd when none runs; returns the PID to stop afterwards, or null when it was already running. */
function ensureDockerd(): number | null {
  if (dockerdPid() !== null) return null;
  execFileSync("bash", [join(BENCH_ROOT, "scripts/lib/test-dockerd.sh"), "start"], { stdio: "ignore" });
  return dockerdPid();
}

async function stopDockerd(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}

/**
 * The same 10 containers started straight through the docker CLI, all at once (bridge network, like maro's
 * docker runtime): what the engine alone costs on this machine now, for scale.
 */
async function rawDocker(env: NodeJS.ProcessEnv, runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const names = Array.from({ length: COMPONENTS }, (_, i) => `maro-bench-raw-${process.pid}-${r}-${i}`);
    const t0 = performance.now();
    try {
      await Promise.all(
        names.map((name) =>
          run(
            "docker",
            ["run", "--detach", "--name", name, "--network", "bridge", "maro/busybox:test", "sleep", "3600"],
            {
              env,
            },
          ),
        ),
      );
      times.push(performance.now() - t0);
    } finally {
      await run("docker", ["rm", "--force", ...names], { env }).catch(() => {});
    }
  }
  return times;
}

function jobSpec(name: string): JobSpec {
  return {
    name,
    components: [
      {
        type: "w",
        image: "maro/busybox:test",
        resources: { cpuMillis: 100, memoryBytes: 32 * 2 ** 20, gpu: 0 },
        num: COMPONENTS,
        command: ["sleep", "3600"],
        shell: false,
      },
    ],
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const ours = ensureDockerd();
  const dockerHost = `unix://${SOCKET}`;
  const pki = await benchPki();
  const certs = await pki.nodeCerts(2, "docker");
  const master = await MasterDaemon.start(pki, { stopGraceSeconds: 0 });
  const client = master.adminClient(pki);
  const watch = new EventWatch(client);
  const agents = certs.map((cert) =>
    RealAgent.start(pki, {
      master: master.info.address,
      cert,
      runtime: "docker",
      resources: "cpu=2,memory=4096m",
      dockerHost,
    }),
  );
  const latencies: number[] = [];
  let raw: number[] = [];
  try {
    await waitReady(
      client,
      certs.map((c) => c.name),
      30_000,
    );
    for (let i = -1; i < RUNS; i++) {
      const name = i < 0 ? "docker-warm" : `docker-${i}`;
      const from = watch.seen.length;
      const t0 = performance.now();
      await submitJob(client, jobSpec(name));
      const running = await watch.waitFor(
        (e) => e.kind === "job" && e.job === name && e.state === "running",
        60_000,
        from,
      );
      if (!running) throw new Error(`job ${name} did not run:\n${agents.map((a) => a.log().slice(-800)).join("\n")}`);
      if (i >= 0) latencies.push(running.at - t0);
      const stopMark = watch.seen.length;
      await stopJob(client, name);
      const ended = await watch.waitFor(
        (e) => e.kind === "job" && e.job === name && ["killed", "succeeded", "failed", "stopped"].includes(e.state),
        60_000,
        stopMark,
      );
      if (!ended) throw new Error(`job ${name} did not end after StopJob`);
      if (i >= 0) console.error(`run ${i}: ${Math.round(latencies.at(-1) ?? 0)} ms`);
    }
    raw = await rawDocker({ ...process.env, DOCKER_HOST: dockerHost }, RAW_RUNS);
  } finally {
    watch.cancel();
    client.close();
    for (const a of agents) await a.stop();
    await master.stop();
    if (ours !== null) await stopDockerd(ours);
  }
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  writeResult({
    benchmark: "docker-start",
    title: "Job start latency on the real Docker engine (10-component job, 2 docker-runtime agents)",
    anchor: ANCHOR,
    goal: `p99 ≤ ${GOAL_P99_MS.toLocaleString("en")} ms submit → all running`,
    goalMet: p99 <= GOAL_P99_MS,
    notes:
      `${RUNS} runs after one warm-up; image maro/busybox:test already present; containers log to the master's sink ` +
      "(fluentd driver, async). Latency = SubmitJob call → the job's 'running' event at the admin client, i.e. every " +
      "container created, started and reported running by its agent. With 20 runs p99 is the slowest run. The last " +
      "row starts the same 10 containers with the docker CLI alone (parallel `docker run -d`), on the same engine " +
      "right after, to show what the engine itself takes on this machine at the time." +
      (ours !== null ? " dockerd was started for this run and stopped after it." : ""),
    header: ["job", "runs", "p50 ms", "p99 ms", "min ms", "goal", "anchor"],
    table: [
      [
        `${COMPONENTS} components, docker`,
        String(latencies.length),
        String(Math.round(p50)),
        String(Math.round(p99)),
        String(Math.round(quantile(latencies, 0))),
        "p99 ≤ 1,500 ms",
        "K8s pod startup SLO p99 ≤ 5 s",
      ],
      [
        `for scale: ${COMPONENTS} × docker run -d, in parallel, no maro`,
        String(raw.length),
        String(Math.round(quantile(raw, 0.5))),
        String(Math.round(quantile(raw, 0.99))),
        String(Math.round(quantile(raw, 0))),
        "",
        "",
      ],
    ],
    rows: [
      ...latencies.map((ms, i) => ({ run: i, ms: round(ms, 1), path: "maro" })),
      ...raw.map((ms, i) => ({ run: i, ms: round(ms, 1), path: "docker CLI alone" })),
    ],
    seconds: round((performance.now() - started) / 1000, 1),
  });
}

runBench(main);
