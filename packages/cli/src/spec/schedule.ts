// The schedule file (`maro grass schedule start`), with MARO's field names: a
// job file whose `name` names the schedule, plus `job_names`, one job per name,
// all with the same components:
//
//   mode: grass/local        # optional
//   name: sweep
//   job_names: [sweep-lr-1, sweep-lr-2]
//   allocation: {mode: single-metric-balanced, metric: cpu}
//   components:
//     learner: {...}
//
// The result is what StartSchedule takes: the name, the job names and a
// template JobSpec (named after the schedule; the master names each job).

import { dirname, resolve } from "node:path";
import { isDnsLabel } from "@maro/proto";
import { z } from "zod";
import type { Runtime } from "./deployment.js";
import { describeValue, SpecError, type SpecIssue } from "./errors.js";
import { dnsLabel, dnsLabelProblem } from "./fields.js";
import { parseWith } from "./issues.js";
import { isRecord, MAX_JOB_REPLICAS, replicaIssues, sharedJobFields, toJobSpec, type ValidJobSpec } from "./job.js";
import { loadAndValidate } from "./load-yaml.js";

/** Jobs one schedule may start. */
export const MAX_SCHEDULE_JOBS = 1000;

export interface ValidSchedule {
  name: string;
  jobNames: string[];
  /** The components, allocation and priority every job gets; named after the schedule. */
  template: ValidJobSpec;
}

const JOB_NAMES_HINT = "a list of job names such as [sweep-1, sweep-2]";

/** Every bad or repeated name is reported at its index (`job_names[2]`). */
const jobNames = z
  .unknown()
  .transform((value, ctx): string[] => {
    if (value === undefined || value === null) {
      ctx.issues.push({ code: "custom", message: `required; ${JOB_NAMES_HINT}`, input: value });
      return z.NEVER;
    }
    if (!Array.isArray(value)) {
      ctx.issues.push({
        code: "custom",
        message: `expected ${JOB_NAMES_HINT}, got ${describeValue(value)}`,
        input: value,
      });
      return z.NEVER;
    }
    if (value.length === 0) {
      ctx.issues.push({ code: "custom", message: `is an empty list; use ${JOB_NAMES_HINT}`, input: value });
      return z.NEVER;
    }
    if (value.length > MAX_SCHEDULE_JOBS) {
      ctx.issues.push({
        code: "custom",
        message: `has ${value.length} names; a schedule starts at most ${MAX_SCHEDULE_JOBS} jobs`,
        input: value,
      });
      return z.NEVER;
    }
    const seen = new Map<string, number>();
    let ok = true;
    value.forEach((name: unknown, index) => {
      const problem = (message: string) => {
        ctx.issues.push({ code: "custom", message, input: name, path: [index] });
        ok = false;
      };
      if (typeof name !== "string") problem(`expected a job name such as sweep-1, got ${describeValue(name)}`);
      else if (!isDnsLabel(name)) problem(dnsLabelProblem(name, "job name"));
      else if (seen.has(name))
        problem(`"${name}" is already job_names[${seen.get(name)}]; each job needs its own name`);
      else seen.set(name, index);
    });
    return ok ? (value as string[]) : z.NEVER;
  })
  .prefault(undefined);

function scheduleSchema(runtime: Runtime) {
  return z.strictObject({
    name: dnsLabel("schedule name", "my-schedule"),
    job_names: jobNames,
    ...sharedJobFields(runtime),
  });
}

const schemas = { docker: scheduleSchema("docker"), process: scheduleSchema("process") };

/** Replicas across all the schedule's jobs, capped like one job's. */
function scheduleReplicaIssues(doc: Record<string, unknown>, perJob: number): SpecIssue[] {
  const jobs = Array.isArray(doc.job_names) ? doc.job_names.length : 0;
  if (jobs * perJob <= MAX_JOB_REPLICAS) return [];
  return [
    {
      path: "job_names",
      message: `${jobs} jobs of ${perJob} replicas each make ${jobs * perJob}; a schedule may start at most ${MAX_JOB_REPLICAS} replicas in all`,
    },
  ];
}

export interface ScheduleOptions {
  runtime: Runtime;
  /** Absolute directory the schedule file is in; loadSchedule sets it. */
  sourceDir?: string;
}

/** Validates a parsed schedule document. Throws SpecError listing every problem. */
export function validateSchedule(doc: unknown, options: ScheduleOptions): ValidSchedule {
  if (!isRecord(doc)) {
    throw new SpecError([
      {
        path: "",
        message: `expected a mapping of fields (name, job_names, components, …) at the top, got ${describeValue(doc)}`,
      },
    ]);
  }
  const parsed = parseWith(schemas[options.runtime], doc);
  const perJob = replicaIssues(doc);
  const issues = [...(parsed.ok ? [] : parsed.issues), ...perJob];
  if (parsed.ok && perJob.length === 0) {
    const replicas = Object.values(parsed.data.components).reduce((sum, c) => sum + c.num, 0);
    issues.push(...scheduleReplicaIssues(doc, replicas));
  }
  if (!parsed.ok || issues.length > 0) throw new SpecError(issues);
  const { data } = parsed;
  return { name: data.name, jobNames: data.job_names, template: toJobSpec(data, options.sourceDir ?? "") };
}

/** Reads and validates a schedule file. Throws SpecError with positions. */
export function loadSchedule(path: string, options: { runtime: Runtime }): ValidSchedule {
  return loadAndValidate(path, (doc) =>
    validateSchedule(doc, { runtime: options.runtime, sourceDir: dirname(resolve(path)) }),
  );
}
