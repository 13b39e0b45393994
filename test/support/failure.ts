// Shared pieces of the failure-injection tests: the job shape `-o json`
// prints, polling a job through the CLI, the runs recorded by
// marker-worker.mjs, and the test Docker engine.

import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { json } from "./cli.js";
import type { NetnsCluster } from "./netns-cluster.js";
import { eventually } from "./tmp.js";

export const markerWorker = join(import.meta.dirname, "marker-worker.mjs");

export interface ComponentJson {
  id: string;
  state: string;
  nodeName: string;
  containerName: string;
  exitCode: number;
  hasExitCode: boolean;
  oomKilled: boolean;
  restarts: number;
  message: string;
  outputTail: string;
  startedAtMs: string | number;
}

export interface JobJson {
  id: string;
  name: string;
  state: string;
  reason: string;
  attempt?: number;
  submittedAtMs: string | number;
  finishedAtMs: string | number;
  components: ComponentJson[];
}

export const TERMINAL = new Set(["succeeded", "failed", "killed"]);

export function writeFile(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  return path;
}

export async function submit(cluster: NetnsCluster, file: string): Promise<JobJson> {
  const res = await cluster.cli(["grass", "job", "start", cluster.name, file, "-o", "json"]);
  if (res.code !== 0) throw new Error(`job start exited ${res.code}:\n${res.stdout}\n${res.stderr}`);
  return json<JobJson>(res);
}

/** `maro grass job get -o json`, as a user sees it. */
export async function getJob(cluster: NetnsCluster, name: string): Promise<JobJson> {
  return json<JobJson>(await cluster.cli(["grass", "job", "get", cluster.name, name, "-o", "json"]));
}

export async function listJobs(cluster: NetnsCluster): Promise<JobJson[]> {
  return json<JobJson[]>(await cluster.cli(["grass", "job", "list", cluster.name, "-o", "json"]));
}

/**
 * Polls GetJob (the API `job get` prints) until pick returns something;
 * through gRPC rather than a CLI process per poll, to keep the load down.
 */
export function waitJob<T>(
  cluster: NetnsCluster,
  name: string,
  pick: (job: JobJson) => T | null | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<NonNullable<T>> {
  let last: JobJson | null = null;
  return eventually(
    async (): Promise<T | null> => {
      last = await cluster.admin().call<JobJson>("GetJob", { name });
      return pick(last) || null;
    },
    timeoutMs,
    what,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nlast seen: ${JSON.stringify(last, null, 1)}`);
  });
}

export function waitEnded(cluster: NetnsCluster, name: string, timeoutMs: number): Promise<JobJson> {
  return waitJob(cluster, name, (j) => TERMINAL.has(j.state) && j, timeoutMs, `job ${name} to end`);
}

/** One run of marker-worker.mjs, as its marker file tells it. */
export interface Run {
  component: string;
  node: string;
  pid: number;
  startMs: number;
  /** The last line's time: the end, or the last tick of a run that was killed. */
  lastMs: number;
  ended: string | null;
}

export function readRuns(dir: string, jobId: string): Run[] {
  const runs: Run[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.startsWith(`${jobId}.`)) continue;
    const [, component, node, pid] = file.slice(jobId.length).split(".");
    const lines = readFileSync(join(dir, file), "utf8").trim().split("\n");
    const times = lines.map((l) => Number(l.split(" ")[1]));
    const last = lines.at(-1) ?? "";
    runs.push({
      component: component ?? "",
      node: node ?? "",
      pid: Number(pid),
      startMs: times[0] ?? 0,
      lastMs: times.at(-1) ?? 0,
      ended: last.startsWith("end ") ? last.split(" ").slice(2).join(" ") : null,
    });
  }
  return runs.sort((a, b) => a.startMs - b.startMs);
}

/** Pairs of runs of the same component whose lifetimes overlap. */
export function overlaps(runs: Run[]): [Run, Run][] {
  const found: [Run, Run][] = [];
  for (let i = 0; i < runs.length; i++)
    for (let j = i + 1; j < runs.length; j++) {
      const a = runs[i] as Run;
      const b = runs[j] as Run;
      if (a.component === b.component && a.startMs <= b.lastMs && b.startMs <= a.lastMs) found.push([a, b]);
    }
  return found;
}

/**
 * PIDs of live processes whose environment has every one of these entries
 * and whose program (argv[0]) ends with `program` when given: a runtime may
 * wrap a component in a supervising shell that carries the same environment.
 */
export function processesWith(env: Record<string, string>, program?: string): number[] {
  const wanted = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, "utf8"))) continue;
      const vars = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (!wanted.every((w) => vars.includes(w))) continue;
      const argv0 = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0] ?? "";
      if (program === undefined || argv0.endsWith(program)) found.push(Number(entry));
    } catch {}
  }
  return found;
}

/** The environment variable `key` of a live process. */
export function envOf(pid: number, key: string): string | undefined {
  const vars = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  return vars.find((v) => v.startsWith(`${key}=`))?.slice(key.length + 1);
}

/** The shared test Docker engine (test.sh starts it; started here when run alone). */
export function testDockerHost(repoRoot: string): string {
  if (process.env.MARO_TEST_DOCKER_HOST) return process.env.MARO_TEST_DOCKER_HOST;
  return execFileSync("bash", [join(repoRoot, "scripts/lib/test-dockerd.sh"), "start"], { encoding: "utf8" }).trim();
}

export function docker(host: string, ...args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", env: { ...process.env, DOCKER_HOST: host } });
}

export interface Inspected {
  Id: string;
  State: { Running: boolean; OOMKilled: boolean; ExitCode: number; StartedAt: string; Pid: number };
  RestartCount: number;
}

export function inspect(host: string, container: string): Inspected {
  const parsed = JSON.parse(docker(host, "inspect", container)) as Inspected[];
  if (!parsed[0]) throw new Error(`docker inspect ${container}: nothing`);
  return parsed[0];
}

export interface MarkerJob {
  job: JobJson;
  /** Where each run of w-0 writes its start, ticks and end. */
  markers: string;
  /** Creating this file lets the runs finish. */
  release: string;
  /** The node w-0 first ran on, and the other one. */
  victim: string;
  other: string;
}

/**
 * Submits a one-replica job whose component (marker-worker.mjs) records its
 * runs, and waits until w-0 runs on some node and has ticked there.
 */
export async function startMarkerJob(
  cluster: NetnsCluster,
  work: string,
  name: string,
  runForMs: number,
): Promise<MarkerJob> {
  const markers = join(work, "markers");
  mkdirSync(markers);
  const release = join(work, "release");
  const file = writeFile(
    work,
    "job.yml",
    [
      `name: ${name}`,
      "components:",
      "  w:",
      "    resources: {cpu: 1, memory: 64m}",
      "    num: 1",
      `    command: ["node", "${markerWorker}", "${markers}", "${release}", "${runForMs}"]`,
      "",
    ].join("\n"),
  );
  const job = await submit(cluster, file);
  const first = await waitJob(
    cluster,
    name,
    (j) => j.components[0]?.state === "running" && j.components[0],
    20_000,
    "w-0 to run",
  );
  const victim = first.nodeName;
  await eventually(
    () => readRuns(markers, job.id).some((r) => r.node === victim && r.lastMs > r.startMs),
    10_000,
    "w-0 to tick",
  );
  return { job, markers, release, victim, other: victim === "node-1" ? "node-2" : "node-1" };
}
