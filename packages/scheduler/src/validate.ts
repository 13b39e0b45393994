// Jobs the scheduler refuses to place as submitted. These are reported as
// unplaced with neverFits = true: no change in the cluster will make them run.

import { validPriority } from "./order.js";
import type { ComponentRequest, QueuedJob } from "./types.js";

export interface JobProblem {
  /** The component at fault, or "" when the problem is the job as a whole. */
  componentId: string;
  reason: string;
}

export const MODES: readonly string[] = ["single-metric-balanced", "single-metric-compacted", "binpack", "spread"];
const MODE_SET: ReadonlySet<string> = new Set(MODES);
const METRICS: ReadonlySet<string> = new Set(["cpu", "memory", "gpu"]);

function resourceProblem(component: ComponentRequest): string | undefined {
  const { cpuMillis, memoryBytes, gpu } = component.resources;
  const quantities: Array<[string, number]> = [
    ["cpuMillis", cpuMillis],
    ["memoryBytes", memoryBytes],
    ["gpu", gpu],
  ];
  for (const [name, value] of quantities) {
    if (!Number.isFinite(value) || value < 0) return `${name} ${value} is not a non-negative number`;
  }
  if (!Number.isInteger(gpu)) return `gpu ${gpu} is not a whole number of devices`;
  return undefined;
}

function placementProblem(component: ComponentRequest): string | undefined {
  const constraints: unknown = component.constraints;
  if (constraints !== undefined) {
    if (typeof constraints !== "object" || constraints === null || Array.isArray(constraints)) {
      return "constraints must map label names to values";
    }
    for (const [key, value] of Object.entries(constraints)) {
      if (key.length === 0) return "constraints has an empty label name; name the label, e.g. gpu_model: A100";
      if (typeof value !== "string" || value.length === 0) {
        return `constraint ${key} needs a non-empty string value, e.g. ${key}: A100`;
      }
    }
  }
  const spread: unknown = component.spreadAcross;
  if (spread !== undefined && spread !== "node") {
    return `spreadAcross "${String(spread)}" is not supported; use "node" or leave it out`;
  }
  return undefined;
}

/** The first problem that makes the job unschedulable as submitted, or undefined. */
export function validateJob(job: QueuedJob): JobProblem | undefined {
  if (!MODE_SET.has(job.mode)) {
    return {
      componentId: "",
      reason: `job has an unknown allocation mode "${job.mode}"; use one of ${MODES.join(", ")}`,
    };
  }
  if (!METRICS.has(job.metric))
    return { componentId: "", reason: `job has an unknown allocation metric "${job.metric}"` };
  if (!validPriority(job.priority)) {
    return {
      componentId: "",
      reason: `job has an invalid priority ${String(job.priority)}; use a whole number from -2147483648 to 2147483647`,
    };
  }
  if (job.components.length === 0) return { componentId: "", reason: "job has no components" };
  const seen = new Set<string>();
  for (const component of job.components) {
    if (seen.has(component.id)) {
      return { componentId: component.id, reason: `job has more than one component with id ${component.id}` };
    }
    seen.add(component.id);
    const problem = resourceProblem(component);
    if (problem !== undefined) {
      return { componentId: component.id, reason: `${component.id} has an invalid request: ${problem}` };
    }
    const placement = placementProblem(component);
    if (placement !== undefined) return { componentId: component.id, reason: `${component.id}: ${placement}` };
  }
  return undefined;
}
