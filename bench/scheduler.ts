// Pure scheduler benchmark (issue 6, benchmark 1): placements per second of
// schedule(snapshot) at 200, 1,000 and 5,000 nodes, with the p99 time per job,
// against the scan-based scheduler it replaced (bench/lib/scheduler-baseline.ts),
// run in the same process on the same generated snapshots.
//
// - placements/s = components placed / wall time of one schedule() call, which
//   includes building the ledger from the snapshot's allocations and sorting the
//   queue (best of two runs, after a warm-up).
// - The baseline is O(components × nodes), so it runs on a prefix of each queue
//   (the first N components, in queue order); the new scheduler runs on that same
//   prefix too (speed-up column, and the two plans must be deep-equal) and then on
//   the whole queue.
// - p99 ms/job: each job of the whole queue placed through Planner.place (the
//   loop schedule() runs), timed one by one against the ledger as earlier jobs
//   left it; ledger construction is timed separately.
// - "constraints + priorities": the same generated cluster and queue, with a
//   label (pool=fast) on 30% of the nodes, 20% of the jobs constrained to it,
//   priorities 0–3 and 10% of the multi-component jobs spreading their actors
//   across nodes, so the cost of the scheduler-depth features is visible (the
//   queue head that does not fit gets a reservation; later jobs fill the rest).
// Usage: node --import tsx bench/scheduler.ts
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Planner, queueOrder, schedule } from "../packages/scheduler/src/index.js";
import type { Plan, Snapshot } from "../packages/scheduler/src/types.js";
import { baselineSchedule } from "./lib/scheduler-baseline.js";
import { generateSnapshot, queuePrefix, rng } from "./lib/scheduler-gen.js";

const root = join(import.meta.dirname, "..");
const ANCHOR = "kube-scheduler 680–810 pods/s @5k nodes; Nomad C1M ~3,750/s";
const OPTIONS = { now: 0, seed: 1 };

interface Scenario {
  scenario: string;
  nodes: number;
  components: number;
  allocations: number;
  /** Components of the queue's prefix the baseline runs on. */
  baselineComponents: number;
  /** Add labels, constraints, priorities and spread to the generated snapshot. */
  depth?: boolean;
}

const SCENARIOS: Scenario[] = [
  { scenario: "mixed queue", nodes: 200, components: 10_000, allocations: 0, baselineComponents: 10_000 },
  { scenario: "mixed queue", nodes: 1_000, components: 50_000, allocations: 0, baselineComponents: 10_000 },
  { scenario: "mixed queue", nodes: 5_000, components: 100_000, allocations: 0, baselineComponents: 2_000 },
  { scenario: "empty cluster", nodes: 5_000, components: 20_000, allocations: 0, baselineComponents: 2_000 },
  {
    scenario: "250k running allocations",
    nodes: 5_000,
    components: 20_000,
    allocations: 250_000,
    baselineComponents: 2_000,
  },
  {
    scenario: "constraints + priorities",
    nodes: 5_000,
    components: 100_000,
    allocations: 0,
    baselineComponents: 2_000,
    depth: true,
  },
];

/** Labels 30% of the nodes pool=fast; constrains 20% of the jobs to it; priorities 0–3; some spread. */
function withDepth(snapshot: Snapshot, seed: number): Snapshot {
  const r = rng(seed);
  const nodes = snapshot.nodes.map((n) => (r() < 0.3 ? { ...n, labels: { pool: "fast" } } : n));
  const queue = snapshot.queue.map((job) => {
    const constrained = r() < 0.2;
    const spread = job.components.length > 1 && r() < 0.1;
    const components = job.components.map((c) => ({
      ...c,
      ...(constrained ? { constraints: { pool: "fast" } } : {}),
      ...(spread && c.type === "actor" ? { spreadAcross: "node" as const } : {}),
    }));
    return { ...job, priority: Math.floor(r() * 4), components };
  });
  return { ...snapshot, nodes, queue };
}

interface Row {
  scenario: string;
  nodes: number;
  runningAllocations: number;
  components: number;
  jobs: number;
  placedComponents: number;
  unplacedJobs: number;
  /** Jobs holding a reservation in the whole-queue plan (0 or 1). */
  reservations: number;
  baselineQueueComponents: number;
  baselinePlacementsPerSecond: number;
  newPlacementsPerSecondSameQueue: number;
  speedUp: number;
  samePlanAsBaseline: boolean;
  newPlacementsPerSecond: number;
  newScheduleMs: number;
  ledgerBuildMs: number;
  /** Placements/s of the per-job loop alone (Planner.place), without ledger build. */
  placementsPerSecondExcludingBuild: number;
  p50MsPerJob: number;
  p99MsPerJob: number;
  maxMsPerJob: number;
  anchor: string;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function placedComponents(plan: Plan): number {
  let n = 0;
  for (const job of plan.placed) n += job.placements.length;
  return n;
}

function timed<T>(f: () => T): [T, number] {
  const start = performance.now();
  const result = f();
  return [result, (performance.now() - start) / 1000];
}

function bestOf<T>(runs: number, f: () => T): [T, number] {
  let best: [T, number] | undefined;
  for (let i = 0; i < runs; i++) {
    const r = timed(f);
    if (best === undefined || r[1] < best[1]) best = r;
  }
  return best as [T, number];
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

function perJob(snapshot: Snapshot): { buildMs: number; loopSeconds: number; sorted: Float64Array } {
  const [planner, build] = timed(() => new Planner(snapshot));
  const jobs = queueOrder(snapshot.queue);
  const times = new Float64Array(jobs.length);
  let total = 0;
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    if (job === undefined) continue;
    const start = performance.now();
    planner.place(job);
    const ms = performance.now() - start;
    times[i] = ms;
    total += ms;
  }
  return { buildMs: build * 1000, loopSeconds: total / 1000, sorted: times.sort() };
}

function runScenario(s: Scenario, seed: number): Row {
  const generated = generateSnapshot(s.nodes, s.components, s.allocations, seed);
  const snapshot = s.depth === true ? withDepth(generated, seed + 7) : generated;
  // The prefix is taken in queue order (priority first when priorities are set).
  const prefix: Snapshot = { ...snapshot, queue: queuePrefix(queueOrder(snapshot.queue), s.baselineComponents) };

  const [basePlan, baseSeconds] = timed(() => baselineSchedule(prefix, OPTIONS));
  const [newPrefixPlan, newPrefixSeconds] = bestOf(2, () => schedule(prefix, OPTIONS));
  let same = true;
  try {
    assert.deepEqual(newPrefixPlan, basePlan);
  } catch {
    same = false;
  }

  const [plan, seconds] = bestOf(2, () => schedule(snapshot, OPTIONS));
  const placed = placedComponents(plan);
  const jobTimes = perJob(snapshot);
  const baseRate = placedComponents(basePlan) / baseSeconds;
  const newPrefixRate = placedComponents(newPrefixPlan) / newPrefixSeconds;
  return {
    scenario: s.scenario,
    nodes: s.nodes,
    runningAllocations: snapshot.allocations.length,
    components: snapshot.queue.reduce((n, j) => n + j.components.length, 0),
    jobs: snapshot.queue.length,
    placedComponents: placed,
    unplacedJobs: plan.unplaced.length,
    reservations: plan.reservations.length,
    baselineQueueComponents: prefix.queue.reduce((n, j) => n + j.components.length, 0),
    baselinePlacementsPerSecond: Math.round(baseRate),
    newPlacementsPerSecondSameQueue: Math.round(newPrefixRate),
    speedUp: round(newPrefixRate / baseRate, 1),
    samePlanAsBaseline: same,
    newPlacementsPerSecond: Math.round(placed / seconds),
    newScheduleMs: round(seconds * 1000, 1),
    ledgerBuildMs: round(jobTimes.buildMs, 1),
    placementsPerSecondExcludingBuild: Math.round(placed / jobTimes.loopSeconds),
    p50MsPerJob: round(quantile(jobTimes.sorted, 0.5), 4),
    p99MsPerJob: round(quantile(jobTimes.sorted, 0.99), 4),
    maxMsPerJob: round(quantile(jobTimes.sorted, 1), 3),
    anchor: ANCHOR,
  };
}

function printTable(rows: Row[]): void {
  const header = [
    "scenario",
    "nodes",
    "running",
    "components",
    "baseline pl/s (first N)",
    "new pl/s (same N)",
    "speed-up",
    "new pl/s (whole queue)",
    "p99 ms/job",
    "unplaced jobs",
    "anchor",
  ];
  const lines = rows.map((r) => [
    r.scenario,
    String(r.nodes),
    String(r.runningAllocations),
    String(r.components),
    `${r.baselinePlacementsPerSecond} (N=${r.baselineQueueComponents})`,
    String(r.newPlacementsPerSecondSameQueue),
    `${r.speedUp}x${r.samePlanAsBaseline ? "" : " PLAN DIFFERS"}`,
    String(r.newPlacementsPerSecond),
    String(r.p99MsPerJob),
    String(r.unplacedJobs),
    r.anchor,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const l of lines) console.log(fmt(l));
}

function main(): void {
  const started = performance.now();
  // Warm-up: let both implementations get optimised before anything is timed.
  const warm = generateSnapshot(200, 3_000, 0, 99);
  baselineSchedule(warm, OPTIONS);
  for (let i = 0; i < 3; i++) schedule(warm, OPTIONS);

  const rows: Row[] = [];
  for (const [i, s] of SCENARIOS.entries()) {
    const row = runScenario(s, 1000 + i);
    rows.push(row);
    console.error(`${s.scenario} @ ${s.nodes} nodes: ${row.newPlacementsPerSecond} placements/s`);
  }
  printTable(rows);
  const cpu = cpus()[0];
  const result = {
    benchmark: "scheduler",
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpu?.model ?? "unknown",
    loadAverage: loadavg().map((l) => round(l, 2)),
    seconds: round((performance.now() - started) / 1000, 1),
    notes:
      "Pure schedule() in one process, one core. placements/s = components placed / wall time of schedule() " +
      "(ledger build + queue sort included; best of 2 after warm-up). The scan-based baseline runs on the first N " +
      "components of each queue; the new scheduler on the same N (speed-up; plans must be deep-equal) and on the " +
      "whole queue. p50/p99/max ms per job: Planner.place timed per job over the whole queue; ledgerBuildMs is the " +
      "one-off cost of reading the snapshot's nodes and allocations. 'constraints + priorities': 30% of nodes " +
      "labelled pool=fast, 20% of jobs constrained to it, priorities 0-3, 10% of multi-component jobs spread.",
    rows,
  };
  const dir = join(root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "scheduler.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote bench/results/scheduler.json (${result.seconds} s)`);
  if (rows.some((r) => !r.samePlanAsBaseline)) process.exitCode = 1;
}

main();
