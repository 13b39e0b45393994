import { formatCpu } from "@maro/proto";
import { formatMemory } from "@maro/scheduler";

export type OutputFormat = "table" | "json";

/** Prints rows as aligned columns; the first row is the header. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function resources(r: { cpuMillis: number; memoryBytes: number; gpu: number } | null | undefined): string {
  if (!r) return "-";
  return `${formatCpu(r.cpuMillis)} cpu, ${formatMemory(r.memoryBytes)}${r.gpu ? `, ${r.gpu} gpu` : ""}`;
}

export function ago(ms: number, now = Date.now()): string {
  if (!ms) return "-";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export function duration(fromMs: number, toMs: number): string {
  if (!fromMs || !toMs) return "-";
  const s = (toMs - fromMs) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}
