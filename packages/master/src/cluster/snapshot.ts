import type { Allocation, ComponentRequest, NodeState, Plan, QueuedJob, Reservation, Snapshot } from "@maro/scheduler";
import { holdsResources } from "../jobs/lifecycle.js";
import type { JobRecord, NodeRecord } from "../state/records.js";

/** A pending job as the scheduler sees it. */
function queuedJob(job: JobRecord): QueuedJob {
  const specs = new Map(job.spec.components.map((s) => [s.type, s]));
  return {
    id: job.id,
    name: job.name,
    mode: job.spec.allocationMode,
    metric: job.spec.allocationMetric,
    priority: job.spec.priority,
    submittedAt: job.submittedAtMs,
    components: job.components.map((c): ComponentRequest => {
      const spec = specs.get(c.type);
      return {
        id: c.id,
        type: c.type,
        index: c.index,
        resources: c.resources,
        ...(spec && Object.keys(spec.constraints).length > 0 ? { constraints: spec.constraints } : {}),
        ...(spec?.spreadAcross === "node" ? { spreadAcross: "node" as const } : {}),
      };
    }),
  };
}

/**
 * The scheduler's view of the cluster: ready nodes, held resources, the
 * pending queue. Null when nothing waits: most calls (a status report) then
 * cost one pass over the jobs, not over every replica and node.
 */
export function buildSnapshot(
  version: number,
  jobs: Iterable<JobRecord>,
  nodes: Iterable<NodeRecord>,
  isConnected: (node: NodeRecord) => boolean,
  /** The last plan's reservations, so a blocked head keeps the nodes it holds. */
  reservations: Reservation[] = [],
): Snapshot | null {
  const all = [...jobs];
  const queue: QueuedJob[] = [];
  // A job placed again waits for its old containers to stop: no replica runs twice.
  for (const job of all)
    if (job.state === "pending" && !job.stopRequested && job.retired.length === 0) queue.push(queuedJob(job));
  if (queue.length === 0) return null;
  const nodeStates: NodeState[] = [];
  for (const n of nodes) {
    nodeStates.push({
      id: n.id,
      name: n.name,
      ready: n.state === "ready" && isConnected(n),
      cordoned: n.cordoned,
      labels: n.labels,
      allocatable: { ...n.allocatable },
      gpuIndices: [...n.gpuIndices],
    });
  }
  const allocations: Allocation[] = [];
  for (const job of all) {
    for (const c of job.components)
      if (holdsResources(c))
        allocations.push({
          jobId: job.id,
          componentId: c.id,
          nodeId: c.nodeId,
          resources: c.resources,
          gpuIndices: c.gpuIndices,
        });
    // Containers of an earlier placement hold their resources until they stop.
    for (const r of job.retired)
      allocations.push({
        jobId: job.id,
        componentId: `retired:${r.containerName}`,
        nodeId: r.nodeId,
        resources: r.resources,
        gpuIndices: r.gpuIndices,
      });
  }
  return { version, nodes: nodeStates, allocations, queue, reservations };
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
    job.explanation = null;
    job.scheduledAtMs = nowMs;
    changed.push(job);
    placed.push(job);
  }
  for (const u of plan.unplaced) {
    const job = jobsById.get(u.jobId);
    if (!job || job.reason === u.reason) continue;
    job.reason = u.reason;
    job.explanation = {
      componentId: u.explanation.componentId,
      needs: { ...u.explanation.needs },
      nodesEvaluated: u.explanation.nodesEvaluated,
      filtered: { ...u.explanation.filtered },
    };
    changed.push(job);
  }
  return { changed, placed };
}
