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
  options: {
    name?: string;
    ready?: boolean;
    gpuIndices?: number[];
    labels?: Record<string, string>;
    cordoned?: boolean;
  } = {},
): NodeState {
  const n: NodeState = {
    id,
    name: options.name ?? id,
    ready: options.ready ?? true,
    allocatable,
    gpuIndices: options.gpuIndices ?? Array.from({ length: allocatable.gpu }, (_, i) => i),
  };
  if (options.labels !== undefined) n.labels = options.labels;
  if (options.cordoned !== undefined) n.cordoned = options.cordoned;
  return n;
}

export function component(
  id: string,
  resources: Resources,
  options: { constraints?: Record<string, string>; spread?: boolean } = {},
): ComponentRequest {
  const dash = id.lastIndexOf("-");
  const c: ComponentRequest = {
    id,
    type: dash < 0 ? id : id.slice(0, dash),
    index: dash < 0 ? 0 : Number(id.slice(dash + 1)) || 0,
    resources,
  };
  if (options.constraints !== undefined) c.constraints = options.constraints;
  if (options.spread === true) c.spreadAcross = "node";
  return c;
}

export function job(
  id: string,
  components: ComponentRequest[],
  options: { mode?: AllocationMode; metric?: Metric; submittedAt?: number; priority?: number } = {},
): QueuedJob {
  const j: QueuedJob = {
    id,
    name: id,
    mode: options.mode ?? "single-metric-balanced",
    metric: options.metric ?? "cpu",
    components,
    submittedAt: options.submittedAt ?? 0,
  };
  if (options.priority !== undefined) j.priority = options.priority;
  return j;
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
