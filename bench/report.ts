// Writes bench/RESULTS.md from the JSON results in bench/results/: the machine
// (read from the system), then each benchmark's table with its anchor, goal
// and whether the goal was met, and the CPU profile's top frames where one was
// taken. Run last by `npm run bench`.
// Usage: node --import tsx bench/report.ts
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { BENCH_ROOT, markdownTable, type ProfileFrame, RESULTS_DIR, round, verdict } from "./lib/report-io.js";

interface AnyResult {
  benchmark: string;
  title?: string;
  anchor?: string;
  goal?: string;
  goalMet?: boolean | null;
  notes?: string;
  header?: string[];
  table?: string[][];
  rows?: Record<string, unknown>[];
  profile?: ProfileFrame[];
  date?: string;
  loadAverage?: number[];
  seconds?: number;
}

const ORDER = [
  "scheduler",
  "e2e-placement",
  "fan-in",
  "failure-detection",
  "docker-start",
  "agent-footprint",
  "log-sink",
];

/** Benchmarks written before this report's conventions: their rows, shown by chosen columns. */
const LEGACY: Record<string, { title: string; columns: [string, string][] }> = {
  scheduler: {
    title: "Pure scheduler: schedule(snapshot) placements per second (bench/scheduler.ts)",
    columns: [
      ["scenario", "scenario"],
      ["nodes", "nodes"],
      ["running", "runningAllocations"],
      ["components", "components"],
      ["baseline pl/s", "baselinePlacementsPerSecond"],
      ["new pl/s (whole queue)", "newPlacementsPerSecond"],
      ["speed-up", "speedUp"],
      ["p99 ms/job", "p99MsPerJob"],
      ["anchor", "anchor"],
    ],
  },
  "log-sink": {
    title: "Log sink: events per second per core (bench/log-sink.ts)",
    columns: [
      ["scenario", "scenario"],
      ["events", "events"],
      ["events/s", "eventsPerSecond"],
      ["events/CPU-s", "eventsPerCpuSecond"],
      ["sink RSS MiB", "sinkPeakRssMiB"],
      ["anchor", "anchor"],
    ],
  },
};

function machine(): string[][] {
  const cpuModel = (() => {
    try {
      return /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpus()[0]?.model ?? "?";
    } catch {
      return cpus()[0]?.model ?? "?";
    }
  })();
  let os = "";
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "";
  } catch {}
  let redis = "";
  try {
    redis = execFileSync("redis-server", ["--version"], { encoding: "utf8" }).trim().split(" ").slice(0, 3).join(" ");
  } catch {}
  let docker = "";
  try {
    docker = execFileSync("docker", ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  return [
    ["CPU", cpuModel],
    ["cores", String(cpus().length)],
    ["RAM", `${round(totalmem() / 2 ** 30, 1)} GiB`],
    ["kernel", `Linux ${release()}`],
    ["OS", os],
    ["Node.js", process.version],
    ["Redis", redis],
    ["Docker", docker],
    [
      "load average when this report was written (1/5/15 min)",
      loadavg()
        .map((l) => round(l, 2))
        .join(" / "),
    ],
  ];
}

function cell(v: unknown): string {
  return typeof v === "number" ? String(v) : typeof v === "string" ? v : JSON.stringify(v);
}

function section(r: AnyResult): string {
  const legacy = LEGACY[r.benchmark];
  const out: string[] = [];
  out.push(`## ${r.title ?? legacy?.title ?? r.benchmark}`);
  out.push("");
  const when = [
    r.date ? `run ${r.date}` : "",
    r.loadAverage ? `load average then ${r.loadAverage.join(" / ")}` : "",
    r.seconds ? `${r.seconds} s` : "",
  ]
    .filter(Boolean)
    .join(", ");
  if (when) out.push(`_${when}; bench/results/${r.benchmark}.json_`, "");
  if (r.header && r.table) out.push(markdownTable(r.header, r.table));
  else if (legacy && r.rows)
    out.push(
      markdownTable(
        legacy.columns.map(([h]) => h),
        r.rows.map((row) => legacy.columns.map(([, k]) => cell(row[k]))),
      ),
    );
  out.push("");
  if (r.anchor) out.push(`- **Anchor:** ${r.anchor}`);
  if (r.goal) out.push(`- **Goal:** ${r.goal} — **${verdict(r.goalMet ?? null)}**`);
  if (r.notes) out.push(`- **How:** ${r.notes}`);
  if (r.profile && r.profile.length > 0) {
    out.push("- **CPU profile** (node --cpu-prof, self time, idle excluded):", "");
    out.push(
      markdownTable(
        ["self %", "function", "where"],
        r.profile.map((f) => [f.percent.toFixed(1), `\`${f.name}\``, f.where.replaceAll("|", "\\|")]),
      ),
    );
  }
  out.push("");
  return out.join("\n");
}

function main(): void {
  const results: AnyResult[] = [];
  for (const name of ORDER) {
    const file = join(RESULTS_DIR, `${name}.json`);
    if (existsSync(file)) results.push(JSON.parse(readFileSync(file, "utf8")) as AnyResult);
  }
  const summary = results
    .filter((r) => r.goal)
    .map((r) => [r.title?.split(":")[0] ?? r.benchmark, r.goal ?? "", verdict(r.goalMet ?? null)]);
  const md = [
    "# Benchmark results",
    "",
    "Generated by `bench/report.ts` from `bench/results/*.json` at the end of `npm run bench`; do not edit by hand.",
    "The machine is shared with other work while benchmarks run: figures are noisy (see each load average).",
    "",
    "## Machine",
    "",
    markdownTable(["item", "value"], machine()),
    "",
    "## Goals",
    "",
    markdownTable(["benchmark", "goal", "result"], summary),
    "",
    ...results.map(section),
  ].join("\n");
  const target = join(BENCH_ROOT, "bench", "RESULTS.md");
  writeFileSync(target, md);
  console.log(`wrote ${target}`);
}

main();
