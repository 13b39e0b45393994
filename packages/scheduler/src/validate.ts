// Jobs the scheduler refuses to place as submitted. These are reported as
// unplaced with neverFits = true: no change in the cluster will make them run.

import type { ComponentRequest, QueuedJob } from "./types.js";

export interface JobProblem {
  /** The component at fault, or "" when the problem is the job as a whole. */
  componentId: string;
  reason: string;
}

const MODES: ReadonlySet<string> = new Set(["single-metric-balanced", "single-metric-compacted"]);
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

/** The first problem that makes the job unschedulable as submitted, or undefined. */
export function validateJob(job: QueuedJob): JobProblem | undefined {
  if (!MODES.has(job.mode)) return { componentId: "", reason: `job has an unknown allocation mode "${job.mode}"` };
  if (!METRICS.has(job.metric))
    return { componentId: "", reason: `job has an unknown allocation metric "${job.metric}"` };
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
  }
  return undefined;
}
