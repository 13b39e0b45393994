// The scheduling loop: queue order, gang placement, FIFO with skipping.
//
// Pure: the result depends only on the snapshot. options.now and options.seed
// are accepted for the contract but not needed yet (no randomness is used;
// every tie is broken by node name, then id).

import { type Explained, explainNeverFits, explainNoNode } from "./explain.js";
import { Ledger } from "./ledger.js";
import { placementOrder, queueOrder } from "./order.js";
import type { PlacedJob, Placement, Plan, QueuedJob, ScheduleOptions, Snapshot, UnplacedJob } from "./types.js";
import { validateJob } from "./validate.js";

export type Outcome = { placed: PlacedJob } | { unplaced: UnplacedJob };

function unplaced(job: QueuedJob, explained: Explained, neverFits: boolean): Outcome {
  return { unplaced: { jobId: job.id, reason: explained.reason, neverFits, explanation: explained.explanation } };
}

/**
 * Places every component of `job` or none. On success the ledger keeps the
 * job's bookings; on failure it is rolled back to where it was.
 */
function placeJob(job: QueuedJob, ledger: Ledger): Outcome {
  const problem = validateJob(job);
  if (problem !== undefined) {
    const component = job.components.find((c) => c.id === problem.componentId);
    const needs = component === undefined ? { cpuMillis: 0, memoryBytes: 0, gpu: 0 } : { ...component.resources };
    const explanation = { componentId: problem.componentId, needs, nodesEvaluated: 0, filtered: {} };
    return unplaced(job, { reason: problem.reason, explanation }, true);
  }

  const order = placementOrder(job.components, job.metric);
  for (const component of order) {
    if (ledger.anyCouldEverFit(component.resources)) continue;
    const never = explainNeverFits(component, ledger);
    if (never !== undefined) return unplaced(job, never, true);
  }

  const mark = ledger.mark();
  const byComponent = new Map<string, Placement>();
  for (const component of order) {
    const chosen = ledger.select(job.mode, job.metric, component.resources);
    if (chosen === undefined) {
      const explained = explainNoNode(component, ledger, byComponent.size);
      ledger.rollback(mark);
      return unplaced(job, explained, false);
    }
    const gpuIndices = ledger.take(chosen.id, component.resources);
    byComponent.set(component.id, { componentId: component.id, nodeId: chosen.id, gpuIndices });
  }

  const placements: Placement[] = [];
  for (const component of job.components) {
    const placement = byComponent.get(component.id);
    if (placement !== undefined) placements.push(placement);
  }
  return { placed: { jobId: job.id, placements } };
}

/**
 * Places jobs one at a time against one ledger, exactly as `schedule` does
 * (it is what `schedule` runs). Exposed so benchmarks can time each job's
 * placement; callers handle queue order and duplicate job ids themselves.
 */
export class Planner {
  private readonly ledger: Ledger;

  constructor(snapshot: Pick<Snapshot, "nodes" | "allocations">) {
    this.ledger = new Ledger(snapshot.nodes, snapshot.allocations);
  }

  place(job: QueuedJob): Outcome {
    return placeJob(job, this.ledger);
  }
}

/**
 * Plans placements for the queued jobs of `snapshot`.
 *
 * - Jobs are taken in queue order (submittedAt, then id). A job that does not
 *   fit is left unplaced with a reason and later jobs may still be placed.
 *   Only the first queue entry with a given job id is considered.
 * - A job is placed whole or not at all, never over-committing cpu, memory or
 *   gpu on any node, and only on ready nodes. Each gpu a component asks for is
 *   a distinct device index no allocation or earlier placement uses.
 * - placed and unplaced follow queue order; a job's placements follow the
 *   order of its components.
 */
export function schedule(snapshot: Snapshot, options: ScheduleOptions): Plan {
  void options;
  const planner = new Planner(snapshot);
  const plan: Plan = { snapshotVersion: snapshot.version, placed: [], unplaced: [] };
  const seen = new Set<string>();
  for (const job of queueOrder(snapshot.queue)) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    const outcome = planner.place(job);
    if ("placed" in outcome) plan.placed.push(outcome.placed);
    else plan.unplaced.push(outcome.unplaced);
  }
  return plan;
}
