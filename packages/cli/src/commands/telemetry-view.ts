// How events, anomalies, usage and a node's history are shown.

import { type ClusterEventOut, formatCpu, type JobOut, type NodeOut } from "@maro/proto";
import { formatMemory } from "@maro/scheduler";
import { table } from "../output.js";

type NodeUsageOut = NonNullable<NodeOut["usage"]>;

/** Control characters (other than tab) shown as "?", so stored text cannot rewrite the terminal. */
export function printable(text: string): string {
  let out = "";
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    out += (c < 0x20 && c !== 0x09) || c === 0x7f ? "?" : ch;
  }
  return out;
}

function clockTime(ms: number): string {
  return ms
    ? new Date(ms)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z")
    : "-";
}

export function eventsTable(events: ClusterEventOut[]): string {
  const rows = [["TIME", "KIND", "SEVERITY", "JOB", "COMPONENT", "NODE", "STATE", "MESSAGE"]];
  for (const e of events)
    rows.push([
      clockTime(Number(e.timeMs)),
      e.kind,
      e.severity || "-",
      printable(e.job) || "-",
      printable(e.component) || "-",
      printable(e.node) || "-",
      printable(e.state) || "-",
      printable(e.message.split("\n")[0] ?? ""),
    ]);
  return table(rows);
}

/** "0.7/2" cores used of allocatable, "-" before the first sample. */
export function cpuUsedText(node: NodeOut): string {
  if (!node.usage) return "-";
  return `${formatCpu(Number(node.usage.cpuMillis))}/${formatCpu(Number(node.allocatable?.cpuMillis ?? 0))}`;
}

export function memoryUsedText(node: NodeOut): string {
  if (!node.usage) return "-";
  return `${formatMemory(Number(node.usage.memoryUsedBytes))}/${formatMemory(Number(node.usage.memoryTotalBytes))}`;
}

/** The lines `job get` adds: why a pending job waits, and the job's anomalies. */
export function jobTelemetryLines(job: JobOut): string[] {
  const lines: string[] = [];
  const why = job.explanation;
  if (why) {
    lines.push("", `--- why pending (${why.componentId || "job"}, ${why.nodesEvaluated} node(s) evaluated) ---`);
    const counts = Object.entries(why.filtered ?? {}).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
    if (counts.length === 0) lines.push("no node was filtered out");
    else lines.push(table([["REASON", "NODES"], ...counts.map(([reason, n]) => [printable(reason), String(n)])]));
  }
  if (job.anomalies.length > 0) {
    lines.push("", `--- anomalies (${job.anomalies.length}, newest last) ---`);
    const rows = [["TIME", "SEVERITY", "KIND", "COMPONENT", "NODE", "MESSAGE"]];
    for (const a of job.anomalies)
      rows.push([
        clockTime(Number(a.timeMs)),
        a.severity,
        printable(a.state),
        printable(a.component) || "-",
        printable(a.node),
        printable(a.message.split("\n")[0] ?? ""),
      ]);
    lines.push(table(rows));
  }
  return lines;
}

export interface MetricsSample {
  timeMs: number;
  node: NodeUsageOut | null;
}

/** A node's history: min / average / max of each measure, then the newest points. */
export function metricsSummary(node: string, samples: MetricsSample[], recent = 6): string {
  const points = samples.filter((s): s is MetricsSample & { node: NodeUsageOut } => s.node !== null);
  if (points.length === 0) return `node ${node}: no samples in the last hour`;
  const first = points[0] as { timeMs: number };
  const last = points[points.length - 1] as { timeMs: number; node: NodeUsageOut };
  const stat = (pick: (u: NodeUsageOut) => number, show: (n: number) => string) => {
    const values = points.map((p) => pick(p.node));
    const avg = Math.round(values.reduce((a, b) => a + b, 0) / values.length);
    return [show(Math.min(...values)), show(avg), show(Math.max(...values))];
  };
  const cpu = (n: number) => formatCpu(Math.round(n));
  const mem = (n: number) => formatMemory(Math.round(n));
  const rate = (n: number) => `${mem(n)}/s`;
  const lines = [
    `node ${node}: ${points.length} point(s) of 10 s from ${clockTime(Number(first.timeMs))} to ${clockTime(Number(last.timeMs))}`,
    `capacity: ${cpu(Number(last.node.cpuCapacityMillis))} cpu, ${mem(Number(last.node.memoryTotalBytes))} memory, ${mem(Number(last.node.diskTotalBytes))} disk`,
    "",
    table([
      ["MEASURE", "MIN", "AVG", "MAX"],
      ["cpu", ...stat((u) => Number(u.cpuMillis), cpu)],
      ["memory", ...stat((u) => Number(u.memoryUsedBytes), mem)],
      ["disk", ...stat((u) => Number(u.diskUsedBytes), mem)],
      ["net rx", ...stat((u) => Number(u.netRxBytesPerS), rate)],
      ["net tx", ...stat((u) => Number(u.netTxBytesPerS), rate)],
    ]),
    "",
    table([
      ["TIME", "CPU", "MEMORY", "GPU UTIL"],
      ...points
        .slice(-recent)
        .map((p) => [
          clockTime(Number(p.timeMs)),
          cpu(Number(p.node.cpuMillis)),
          mem(Number(p.node.memoryUsedBytes)),
          p.node.gpus.length ? p.node.gpus.map((g) => `${g.index}:${g.utilizationPercent}%`).join(" ") : "-",
        ]),
    ]),
  ];
  return lines.join("\n");
}
