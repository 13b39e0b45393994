// What every benchmark of issue 6 shares: a Markdown table on stdout, a JSON
// result under bench/results/, percentiles and rounding.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

export const BENCH_ROOT = join(import.meta.dirname, "..", "..");
export const RESULTS_DIR = join(BENCH_ROOT, "bench", "results");
/** Raw CPU profiles (.cpuprofile, megabytes): kept out of the repository; their top frames go into the JSON. */
export const PROFILES_DIR = join(tmpdir(), "maro-bench-profiles");

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The q-quantile (0..1) of values, nearest rank; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** A Markdown table: the header and one line per row, columns padded. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [fmt(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(fmt)].join("\n");
}

export interface BenchResult<Row> {
  benchmark: string;
  title: string;
  anchor: string;
  goal: string;
  /** True when every row meets the goal; null when it could not be judged. */
  goalMet: boolean | null;
  notes: string;
  header: string[];
  table: string[][];
  rows: Row[];
  seconds: number;
  /** Top self-time frames of a master CPU profile, when one was taken. */
  profile?: ProfileFrame[];
}

export interface ProfileFrame {
  name: string;
  where: string;
  percent: number;
}

/** Prints the table and writes bench/results/<benchmark>.json with the machine's load beside the figures. */
export function writeResult<Row>(result: BenchResult<Row>): void {
  console.log(`\n${result.title}\n`);
  console.log(markdownTable(result.header, result.table));
  console.log(`\nanchor: ${result.anchor}\ngoal: ${result.goal} -> ${verdict(result.goalMet)}`);
  if (result.profile) {
    console.log("CPU profile, top self time:");
    for (const f of result.profile) console.log(`  ${f.percent.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${result.benchmark}.json`);
  const full = {
    ...result,
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    loadAverage: loadavg().map((l) => round(l, 2)),
  };
  writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
  console.log(`wrote ${file} (${result.seconds} s)`);
}

export function verdict(met: boolean | null): string {
  return met === null ? "not judged" : met ? "met" : "missed";
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until f returns a value other than null/undefined, or throws after timeoutMs. */
export async function until<T>(
  f: () => T | null | undefined | Promise<T | null | undefined>,
  timeoutMs: number,
  what: string,
  stepMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Runs a benchmark's main and exits: 0 when it finished, 1 (with the error) when it threw. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
