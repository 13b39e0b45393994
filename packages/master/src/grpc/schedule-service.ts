import type { JobSpecOut, Logger, MasterHandlers } from "@maro/proto";
import { isDnsLabel } from "@maro/proto";
import type { Controller } from "../cluster/controller.js";
import { MaroError } from "../errors.js";
import { validateJobSpec } from "../jobs/new-job.js";
import type { JobSpecRecord } from "../state/records.js";
import { jobToProto } from "./convert.js";
import { adminGuard } from "./guard.js";

/** A schedule starts at most this many jobs. */
export const MAX_SCHEDULE_JOBS = 1000;

/**
 * MARO's schedules: one job per name in job_names, each with the template's
 * components. Every job is checked before any is queued.
 */
export function scheduleSpecs(name: string, jobNames: string[], template: JobSpecOut | null): JobSpecRecord[] {
  const problems: string[] = [];
  if (!isDnsLabel(name)) problems.push(`name: ${JSON.stringify(name)} is not a DNS label (a-z, 0-9, '-', ≤63)`);
  if (jobNames.length === 0) problems.push("job_names: list at least one job name");
  if (jobNames.length > MAX_SCHEDULE_JOBS)
    problems.push(`job_names: ${jobNames.length} names; at most ${MAX_SCHEDULE_JOBS}`);
  const seen = new Set<string>();
  for (const [i, jobName] of jobNames.entries()) {
    if (seen.has(jobName)) problems.push(`job_names[${i}]: ${JSON.stringify(jobName)} is listed twice`);
    seen.add(jobName);
  }
  if (!template) problems.push("template: required (the schedule's components)");
  if (problems.length > 0 || !template) throw new MaroError("INVALID_ARGUMENT", problems.join("; "));
  const specs: JobSpecRecord[] = [];
  for (const [i, jobName] of jobNames.entries()) {
    try {
      specs.push({ ...validateJobSpec({ ...template, name: jobName }), schedule: name });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new MaroError("INVALID_ARGUMENT", `job_names[${i}] (${jobName}): ${message}`);
    }
  }
  return specs;
}

export function scheduleHandlers(
  controller: Controller,
  log: Logger,
): Pick<MasterHandlers, "StartSchedule" | "StopSchedule"> {
  const { unary } = adminGuard(log);
  const view = (j: Parameters<typeof jobToProto>[0]) => jobToProto(j, (id) => id);
  return {
    StartSchedule: unary(async (req) => {
      const jobs = await controller.submitJobs(scheduleSpecs(req.name, req.jobNames, req.template));
      return { name: req.name, jobs: jobs.map(view) };
    }),
    StopSchedule: unary(async (req) => {
      if (!req.name) throw new MaroError("INVALID_ARGUMENT", "name: required");
      return { name: req.name, jobs: (await controller.stopSchedule(req.name)).map(view) };
    }),
  };
}
