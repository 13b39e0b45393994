// The scheduling loop: queue order (priority, then submission), gang
// placement, and one reservation so the first blocked job is not starved by
// the jobs after it.
//
// Pure: the result depends only on the snapshot. options.now and options.seed
// are accepted for the contract but not needed (no randomness is used; every
// tie is broken by node name, then id).

import { type Explained, explainNoNode } from "./explain.js";
import { nodeFilter } from "./labels.js";
import { Ledger } from "./ledger.js";
import { explainNeverPlaced } from "./never.js";
import { placementOrder, queueOrder } from "./order.js";
import { fitsNow, type Prepared, reserve } from "./reserve.js";
import type {
  PlacedJob,
  Placement,
  Plan,
  QueuedJob,
  Reservation,
  ScheduleOptions,
  Snapshot,
  UnplacedJob,
} from "./types.js";
import { validateJob } from "./validate.js";

export type Outcome = { placed: PlacedJob } | { unplaced: UnplacedJob };

function unplaced(job: QueuedJob, explained: Explained, neverFits: boolean): Outcome {
  return { unplaced: { jobId: job.id, reason: explained.reason, neverFits, explanation: explained.explanation } };
}

/** The placements in the order of the job's components. */
function inJobOrder(job: QueuedJob, byComponent: ReadonlyMap<string, Placement>): PlacedJob {
  const placements: Placement[] = [];
  for (const component of job.components) {
    const placement = byComponent.get(component.id);
    if (placement !== undefined) placements.push(placement);
  }
  return { jobId: job.id, placements };
}

/** An attempt; `order` is set when the job was valid and could run on this cluster but did not fit now. */
interface Attempt {
  outcome: Outcome;
  order?: Prepared[];
}

/**
 * Places every component of `job` or none, each where its mode prefers among
 * the nodes it may use. On success the ledger keeps the job's bookings; on
 * failure it is rolled back to where it was.
 */
function placeJob(job: QueuedJob, ledger: Ledger, reservedFor: string | undefined): Attempt {
  const problem = validateJob(job);
  if (problem !== undefined) {
    const component = job.components.find((c) => c.id === problem.componentId);
    const needs = component === undefined ? { cpuMillis: 0, memoryBytes: 0, gpu: 0 } : { ...component.resources };
    const explanation = { componentId: problem.componentId, needs, nodesEvaluated: 0, filtered: {} };
    return { outcome: unplaced(job, { reason: problem.reason, explanation }, true) };
  }

  const order: Prepared[] = placementOrder(job.components, job.metric).map((component) => ({
    component,
    filter: nodeFilter(component.constraints),
  }));
  const never = explainNeverPlaced(order, ledger);
  if (never !== undefined) return { outcome: unplaced(job, never, true) };

  const mark = ledger.mark();
  const byComponent = new Map<string, Placement>();
  // Per spread type: the nodes that already got a component of it.
  const spreadOn = new Map<string, string[]>();
  for (const { component, filter } of order) {
    const spread = component.spreadAcross === "node";
    const avoid = spread ? (spreadOn.get(component.type) ?? []) : [];
    const chosen = ledger.select(job.mode, job.metric, component.resources, filter, avoid);
    if (chosen === undefined) {
      const eligibility = { filter, avoid: new Set(avoid), ...(reservedFor === undefined ? {} : { reservedFor }) };
      const explained = explainNoNode(component, ledger, byComponent.size, eligibility);
      ledger.rollback(mark);
      return { outcome: unplaced(job, explained, false), order };
    }
    const gpuIndices = ledger.take(chosen.id, component.resources);
    byComponent.set(component.id, { componentId: component.id, nodeId: chosen.id, gpuIndices });
    if (spread) spreadOn.set(component.type, [...avoid, chosen.id]);
  }
  return { outcome: { placed: inJobOrder(job, byComponent) } };
}

/** Places the job exactly on its reservation (every share fits now). */
function placeOn(job: QueuedJob, order: readonly Prepared[], reservation: Reservation, ledger: Ledger): PlacedJob {
  const nodeOf = new Map<string, string>();
  for (const n of reservation.nodes) for (const id of n.componentIds) nodeOf.set(id, n.nodeId);
  const byComponent = new Map<string, Placement>();
  for (const { component } of order) {
    const nodeId = nodeOf.get(component.id) as string;
    const gpuIndices = ledger.take(nodeId, component.resources);
    byComponent.set(component.id, { componentId: component.id, nodeId, gpuIndices });
  }
  return inJobOrder(job, byComponent);
}

/**
 * Places jobs one at a time against one ledger, exactly as `schedule` does
 * (it is what `schedule` runs). Exposed so benchmarks can time each job's
 * placement; callers pass jobs in queue order and handle duplicate job ids.
 */
export class Planner {
  private readonly ledger: Ledger;
  private readonly previous: readonly Reservation[] | undefined;
  private held: Reservation | undefined;

  constructor(snapshot: Pick<Snapshot, "nodes" | "allocations" | "reservations">) {
    this.ledger = new Ledger(snapshot.nodes, snapshot.allocations);
    this.previous = snapshot.reservations;
  }

  /** The reservation made so far, if any. */
  get reservation(): Reservation | undefined {
    return this.held;
  }

  place(job: QueuedJob): Outcome {
    const attempt = placeJob(job, this.ledger, this.held?.jobId);
    if (attempt.order === undefined || this.held !== undefined) return attempt.outcome;
    // The first job that could run here but does not fit now: hold room for it.
    const reservation = reserve(job, attempt.order, this.ledger, this.previous);
    if (reservation === undefined) return attempt.outcome;
    if (fitsNow(reservation, this.ledger)) {
      return { placed: placeOn(job, attempt.order, reservation, this.ledger) };
    }
    for (const n of reservation.nodes) this.ledger.hold(n.nodeId, n.resources);
    this.held = reservation;
    return attempt.outcome;
  }
}

/**
 * Plans placements for the queued jobs of `snapshot`.
 *
 * - Jobs are taken in queue order (priority descending, then submittedAt,
 *   then id). Only the first queue entry with a given job id is considered.
 * - A job is placed whole or not at all, never over-committing cpu, memory or
 *   gpu on any node, and only on ready, uncordoned nodes carrying every label
 *   its components are constrained to; spread components of one type go to
 *   different nodes. Each gpu a component asks for is a distinct device index
 *   no allocation or earlier placement uses.
 * - The first job that does not fit now but could run on this cluster gets a
 *   reservation (plan.reservations); later jobs fill only the room it leaves.
 *   Jobs that can never run here reserve nothing and block nothing.
 * - placed and unplaced follow queue order; a job's placements follow the
 *   order of its components.
 */
export function schedule(snapshot: Snapshot, options: ScheduleOptions): Plan {
  void options;
  const planner = new Planner(snapshot);
  const plan: Plan = { snapshotVersion: snapshot.version, placed: [], unplaced: [], reservations: [] };
  const seen = new Set<string>();
  for (const job of queueOrder(snapshot.queue)) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    const outcome = planner.place(job);
    if ("placed" in outcome) plan.placed.push(outcome.placed);
    else plan.unplaced.push(outcome.unplaced);
  }
  if (planner.reservation !== undefined) plan.reservations.push(planner.reservation);
  return plan;
}
