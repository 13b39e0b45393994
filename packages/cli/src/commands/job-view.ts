import type { JobOut } from "@maro/proto";
import { ago, duration, resources, table } from "../output.js";
import { jobTelemetryLines } from "./telemetry-view.js";

export function jobsTable(jobs: JobOut[]): string {
  const rows = [["NAME", "STATE", "COMPONENTS", "SUBMITTED", "DURATION", "REASON"]];
  for (const j of jobs) {
    const byState = new Map<string, number>();
    for (const c of j.components) byState.set(c.state, (byState.get(c.state) ?? 0) + 1);
    const summary = [...byState].map(([state, n]) => `${n} ${state}`).join(", ");
    rows.push([
      j.name,
      j.state,
      summary,
      ago(Number(j.submittedAtMs)),
      duration(Number(j.scheduledAtMs), Number(j.finishedAtMs) || Date.now()),
      j.reason.split("\n")[0] ?? "",
    ]);
  }
  return table(rows);
}

export function jobDetail(job: JobOut): string {
  const lines = [
    `job:        ${job.name} (${job.id})`,
    `state:      ${job.state}${job.reason ? ` (${job.reason})` : ""}`,
    `submitted:  ${new Date(Number(job.submittedAtMs)).toISOString()}`,
    `allocation: ${job.spec?.allocationMode ?? "-"} on ${job.spec?.allocationMetric ?? "-"}`,
    "",
  ];
  const rows = [["COMPONENT", "NODE", "STATE", "EXIT", "RESOURCES", "MESSAGE"]];
  for (const c of job.components) {
    rows.push([
      c.id,
      c.nodeName || "-",
      c.state,
      c.hasExitCode ? String(c.exitCode) : "-",
      resources(c.resources),
      c.oomKilled ? `OOM-killed; ${c.message}` : c.message,
    ]);
  }
  lines.push(table(rows));
  for (const c of job.components) {
    if (!c.outputTail.trim()) continue;
    lines.push("", `--- ${c.id} output (last lines) ---`, c.outputTail.trimEnd());
  }
  lines.push(...jobTelemetryLines(job));
  return lines.join("\n");
}
