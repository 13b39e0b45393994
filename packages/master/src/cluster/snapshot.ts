import type { Allocation, NodeState, Plan, QueuedJob, Snapshot } from "@maro/scheduler";
import { holdsResources } from "../jobs/lifecycle.js";
import type { JobRecord, NodeRecord } from "../state/records.js";

/** The scheduler's view of the cluster: ready nodes, held resources, the pending queue. */
export function buildSnapshot(
  version: number,
  jobs: Iterable<JobRecord>,
  nodes: Iterable<NodeRecord>,
  isConnected: (node: NodeRecord) => boolean,
): Snapshot {
  const nodeStates: NodeState[] = [];
  for (const n of nodes) {
    nodeStates.push({
      id: n.id,
      name: n.name,
      ready: n.state === "ready" && isConnected(n),
      allocatable: { ...n.allocatable },
      gpuIndices: [...n.gpuIndices],
    });
  }
  const allocations: Allocation[] = [];
  const queue: QueuedJob[] = [];
  for (const job of jobs) {
    for (const c of job.components) {
      if (holdsResources(c)) {
        allocations.push({
          jobId: job.id,
          componentId: c.id,
          nodeId: c.nodeId,
          resources: c.resources,
          gpuIndices: c.gpuIndices,
        });
      }
    }
    if (job.state === "pending" && !job.stopRequested) {
      queue.push({
        id: job.id,
        name: job.name,
        mode: job.spec.allocationMode,
        metric: job.spec.allocationMetric,
        submittedAt: job.submittedAtMs,
        components: job.components.map((c) => ({ id: c.id, type: c.type, index: c.index, resources: c.resources })),
      });
    }
  }
  return { version, nodes: nodeStates, allocations, queue };
}

export interface AppliedPlan {
  /** Jobs whose records changed (placed, or a new pending reason). */
  changed: JobRecord[];
  /** Jobs that were placed, to dispatch after the commit. */
  placed: JobRecord[];
}

/** Writes a plan into the job records (in memory); the caller commits and dispatches. */
export function applyPlan(
  plan: Plan,
  jobsById: Map<string, JobRecord>,
  nowMs: number,
  nameContainer: (job: JobRecord, componentIndex: number) => string,
): AppliedPlan {
  const changed: JobRecord[] = [];
  const placed: JobRecord[] = [];
  for (const p of plan.placed) {
    const job = jobsById.get(p.jobId);
    if (!job) continue;
    const byComponent = new Map(p.placements.map((pl) => [pl.componentId, pl]));
    job.components.forEach((c, i) => {
      const pl = byComponent.get(c.id);
      if (!pl) return;
      c.nodeId = pl.nodeId;
      c.gpuIndices = [...pl.gpuIndices];
      c.containerName = nameContainer(job, i);
      c.state = "starting";
      c.message = "";
    });
    job.state = "scheduled";
    job.reason = "";
    job.scheduledAtMs = nowMs;
    changed.push(job);
    placed.push(job);
  }
  for (const u of plan.unplaced) {
    const job = jobsById.get(u.jobId);
    if (!job || job.reason === u.reason) continue;
    job.reason = u.reason;
    changed.push(job);
  }
  return { changed, placed };
}
