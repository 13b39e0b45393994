// Every ordering the scheduler relies on, in one place. Strings compare by
// UTF-16 code units (never localeCompare) so the order is the same everywhere.

import type { ComponentRequest, Metric, NodeState, QueuedJob, Resources } from "./types.js";

export function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** Node tie-break: name, then id. */
export function compareNodes(a: NodeState, b: NodeState): number {
  return compareStrings(a.name, b.name) || compareStrings(a.id, b.id);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Whether `priority` is acceptable: absent, or an integer in the int32 range. */
export function validPriority(priority: number | undefined): boolean {
  return priority === undefined || (Number.isInteger(priority) && priority >= INT32_MIN && priority <= INT32_MAX);
}

/** The priority a job is queued at (an invalid one counts as 0; validation reports it). */
export function priorityOf(job: QueuedJob): number {
  return job.priority !== undefined && validPriority(job.priority) ? job.priority : 0;
}

/** Queue order: priority descending, then submittedAt ascending, ties by job id. Returns a new array. */
export function queueOrder(queue: readonly QueuedJob[]): QueuedJob[] {
  return [...queue].sort(
    (a, b) => priorityOf(b) - priorityOf(a) || a.submittedAt - b.submittedAt || compareStrings(a.id, b.id),
  );
}

export function metricOf(resources: Resources, metric: Metric): number {
  switch (metric) {
    case "cpu":
      return resources.cpuMillis;
    case "memory":
      return resources.memoryBytes;
    case "gpu":
      return resources.gpu;
  }
}

/**
 * Placement order within a job: largest first by the job's metric, then cpu,
 * memory, gpu, ties by component id. Big components go first so that the
 * small ones fill the gaps they leave. Returns a new array.
 */
export function placementOrder(components: readonly ComponentRequest[], metric: Metric): ComponentRequest[] {
  return [...components].sort(
    (a, b) =>
      metricOf(b.resources, metric) - metricOf(a.resources, metric) ||
      b.resources.cpuMillis - a.resources.cpuMillis ||
      b.resources.memoryBytes - a.resources.memoryBytes ||
      b.resources.gpu - a.resources.gpu ||
      compareStrings(a.id, b.id),
  );
}
