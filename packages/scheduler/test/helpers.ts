// Builders for scheduler tests. Quantities in the units people write them in.

import type {
  Allocation,
  AllocationMode,
  ComponentRequest,
  Metric,
  NodeState,
  Plan,
  QueuedJob,
  Resources,
  Snapshot,
} from "../src/types.js";

export const Mi = 2 ** 20;
export const Gi = 2 ** 30;

/** cpu in cores, memory in bytes (use Mi/Gi), gpu as a count. */
export function res(cores: number, memoryBytes = 0, gpu = 0): Resources {
  return { cpuMillis: Math.round(cores * 1000), memoryBytes, gpu };
}

export function node(
  id: string,
  allocatable: Resources,
  options: { name?: string; ready?: boolean; gpuIndices?: number[] } = {},
): NodeState {
  return {
    id,
    name: options.name ?? id,
    ready: options.ready ?? true,
    allocatable,
    gpuIndices: options.gpuIndices ?? Array.from({ length: allocatable.gpu }, (_, i) => i),
  };
}

export function component(id: string, resources: Resources): ComponentRequest {
  const dash = id.lastIndexOf("-");
  return {
    id,
    type: dash < 0 ? id : id.slice(0, dash),
    index: dash < 0 ? 0 : Number(id.slice(dash + 1)) || 0,
    resources,
  };
}

export function job(
  id: string,
  components: ComponentRequest[],
  options: { mode?: AllocationMode; metric?: Metric; submittedAt?: number } = {},
): QueuedJob {
  return {
    id,
    name: id,
    mode: options.mode ?? "single-metric-balanced",
    metric: options.metric ?? "cpu",
    components,
    submittedAt: options.submittedAt ?? 0,
  };
}

export function allocation(nodeId: string, resources: Resources, gpuIndices: number[] = []): Allocation {
  return { jobId: "running", componentId: `c-${nodeId}-${gpuIndices.join(".")}`, nodeId, resources, gpuIndices };
}

export function snapshot(
  nodes: NodeState[],
  queue: QueuedJob[],
  allocations: Allocation[] = [],
  version = 1,
): Snapshot {
  return { version, nodes, allocations, queue };
}

export const NOW = { now: 0 };

/** The node a plan put a component on, if any. */
export function nodeOf(plan: Plan, jobId: string, componentId: string): string | undefined {
  const placed = plan.placed.find((p) => p.jobId === jobId);
  return placed?.placements.find((p) => p.componentId === componentId)?.nodeId;
}
