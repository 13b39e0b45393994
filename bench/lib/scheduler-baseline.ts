// The scan-based scheduler as it was before the free-capacity index (issue 6):
// every component checks every node. Kept as the in-run baseline of
// bench/scheduler.ts and as the reference of the equivalence property test
// (packages/scheduler/test/equivalence.test.ts). Copied from
// packages/scheduler/src/{ledger,select-node,schedule}.ts; ordering, validation
// and explanations are shared with the package (they did not change).
//
// Extended for the scheduler-depth features (labels/constraints, cordon,
// spread, binpack/spread modes, priority and reservations) the plain way: the
// node filter and the mode's score are a scan over every node. What is shared
// with the package and therefore NOT checked by the equivalence test: queue
// order, validation, explanations, the all-resource score function, the
// never-fits checks and the choice of a reservation's nodes (reserve.ts, itself
// a scan). What the test does check: every node selection, holds, and the
// schedule loop.

import { type Explained, explainNoNode } from "../../packages/scheduler/src/explain.js";
import { type NodeFilter, nodeFilter, satisfies } from "../../packages/scheduler/src/labels.js";
import { explainNeverPlaced } from "../../packages/scheduler/src/never.js";
import { compareNodes, metricOf, placementOrder, queueOrder } from "../../packages/scheduler/src/order.js";
import { fitsNow, type Prepared, reserve } from "../../packages/scheduler/src/reserve.js";
import { freeScore } from "../../packages/scheduler/src/score.js";
import type {
  Allocation,
  AllocationMode,
  Metric,
  NodeState,
  PlacedJob,
  Placement,
  Plan,
  QueuedJob,
  Reservation,
  Resources,
  ScheduleOptions,
  Snapshot,
  UnplacedJob,
} from "../../packages/scheduler/src/types.js";
import { validateJob } from "../../packages/scheduler/src/validate.js";

interface Entry {
  node: NodeState;
  capacity: Resources;
  indices: number[];
  usedCpu: number;
  usedMemory: number;
  usedGpu: number;
  usedIndices: Set<number>;
  held: Resources;
}

interface Undo {
  entry: Entry;
  usedCpu: number;
  usedMemory: number;
  usedGpu: number;
  indices: number[];
}

function quantity(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export class BaselineLedger {
  readonly nodes: readonly NodeState[];
  private readonly entries = new Map<string, Entry>();
  private readonly undo: Undo[] = [];

  constructor(nodes: readonly NodeState[], allocations: readonly Allocation[]) {
    for (const node of nodes) {
      if (this.entries.has(node.id)) continue;
      const indices = [...new Set(node.gpuIndices.filter((i) => Number.isInteger(i) && i >= 0))].sort((a, b) => a - b);
      const capacity: Resources = {
        cpuMillis: quantity(node.allocatable.cpuMillis),
        memoryBytes: quantity(node.allocatable.memoryBytes),
        gpu: Math.min(Math.floor(quantity(node.allocatable.gpu)), indices.length),
      };
      this.entries.set(node.id, {
        node,
        capacity,
        indices,
        usedCpu: 0,
        usedMemory: 0,
        usedGpu: 0,
        usedIndices: new Set(),
        held: { cpuMillis: 0, memoryBytes: 0, gpu: 0 },
      });
    }
    this.nodes = [...this.entries.values()].map((e) => e.node).sort(compareNodes);
    for (const allocation of allocations) {
      const entry = this.entries.get(allocation.nodeId);
      if (entry === undefined) continue;
      entry.usedCpu += quantity(allocation.resources.cpuMillis);
      entry.usedMemory += quantity(allocation.resources.memoryBytes);
      entry.usedGpu += quantity(allocation.resources.gpu);
      for (const index of allocation.gpuIndices) entry.usedIndices.add(index);
    }
  }

  private entry(nodeId: string): Entry {
    const entry = this.entries.get(nodeId);
    if (entry === undefined) throw new Error(`ledger: unknown node ${nodeId}`);
    return entry;
  }

  capacity(nodeId: string): Resources {
    return { ...this.entry(nodeId).capacity };
  }

  private freeIndices(entry: Entry): number[] {
    return entry.indices.filter((i) => !entry.usedIndices.has(i));
  }

  unreservedFree(nodeId: string): Resources {
    const e = this.entry(nodeId);
    return {
      cpuMillis: Math.max(0, e.capacity.cpuMillis - e.usedCpu),
      memoryBytes: Math.max(0, e.capacity.memoryBytes - e.usedMemory),
      gpu: Math.max(0, Math.min(e.capacity.gpu - e.usedGpu, this.freeIndices(e).length)),
    };
  }

  free(nodeId: string): Resources {
    const e = this.entry(nodeId);
    return {
      cpuMillis: Math.max(0, e.capacity.cpuMillis - e.usedCpu - e.held.cpuMillis),
      memoryBytes: Math.max(0, e.capacity.memoryBytes - e.usedMemory - e.held.memoryBytes),
      gpu: Math.max(0, Math.min(e.capacity.gpu - e.usedGpu, this.freeIndices(e).length) - e.held.gpu),
    };
  }

  hold(nodeId: string, share: Resources): void {
    const h = this.entry(nodeId).held;
    h.cpuMillis += share.cpuMillis;
    h.memoryBytes += share.memoryBytes;
    h.gpu += share.gpu;
  }

  private static lackingIn(free: Resources, request: Resources): Metric | undefined {
    if (request.cpuMillis > free.cpuMillis) return "cpu";
    if (request.memoryBytes > free.memoryBytes) return "memory";
    if (request.gpu > free.gpu) return "gpu";
    return undefined;
  }

  lacking(nodeId: string, request: Resources): Metric | undefined {
    return BaselineLedger.lackingIn(this.free(nodeId), request);
  }

  lackingUnreserved(nodeId: string, request: Resources): Metric | undefined {
    return BaselineLedger.lackingIn(this.unreservedFree(nodeId), request);
  }

  anyCouldEverFit(request: Resources, filter: NodeFilter): boolean {
    return this.countCouldEverFit(request, filter, 1) > 0;
  }

  countCouldEverFit(request: Resources, filter: NodeFilter, atMost: number): number {
    let count = 0;
    for (const node of this.nodes) {
      if (count >= atMost) break;
      if (satisfies(node, filter.entries) && this.couldEverFit(node.id, request)) count++;
    }
    return count;
  }

  fits(nodeId: string, request: Resources): boolean {
    return this.lacking(nodeId, request) === undefined;
  }

  couldEverFit(nodeId: string, request: Resources): boolean {
    const c = this.entry(nodeId).capacity;
    return request.cpuMillis <= c.cpuMillis && request.memoryBytes <= c.memoryBytes && request.gpu <= c.gpu;
  }

  take(nodeId: string, request: Resources): number[] {
    const e = this.entry(nodeId);
    if (!this.fits(nodeId, request)) throw new Error(`ledger: request does not fit on node ${nodeId}`);
    const indices = this.freeIndices(e).slice(0, request.gpu);
    this.undo.push({ entry: e, usedCpu: e.usedCpu, usedMemory: e.usedMemory, usedGpu: e.usedGpu, indices });
    e.usedCpu += request.cpuMillis;
    e.usedMemory += request.memoryBytes;
    e.usedGpu += request.gpu;
    for (const index of indices) e.usedIndices.add(index);
    return [...indices];
  }

  mark(): number {
    return this.undo.length;
  }

  rollback(mark: number): void {
    while (this.undo.length > mark) {
      const u = this.undo.pop();
      if (u === undefined) break;
      u.entry.usedCpu = u.usedCpu;
      u.entry.usedMemory = u.usedMemory;
      u.entry.usedGpu = u.usedGpu;
      for (const index of u.indices) u.entry.usedIndices.delete(index);
    }
  }
}

interface Candidate {
  node: NodeState;
  free: number;
}

function compareCandidates(mode: AllocationMode, a: Candidate, b: Candidate): number {
  const most = mode === "single-metric-balanced" || mode === "spread";
  const byFree = most ? b.free - a.free : a.free - b.free;
  return byFree || compareNodes(a.node, b.node);
}

/** What the mode ranks a node by: free of the metric, or the all-resource score. */
function keyOf(ledger: BaselineLedger, mode: AllocationMode, metric: Metric, node: NodeState): number {
  const free = ledger.free(node.id);
  if (mode !== "binpack" && mode !== "spread") return metricOf(free, metric);
  const cap = ledger.capacity(node.id);
  return freeScore(cap.cpuMillis, cap.memoryBytes, cap.gpu, free.cpuMillis, free.memoryBytes, free.gpu);
}

function selectNode(mode: AllocationMode, candidates: readonly Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (best === undefined || compareCandidates(mode, candidate, best) < 0) best = candidate;
  }
  return best;
}

type Outcome = { placed: PlacedJob } | { unplaced: UnplacedJob };

function unplaced(job: QueuedJob, explained: Explained, neverFits: boolean): Outcome {
  return { unplaced: { jobId: job.id, reason: explained.reason, neverFits, explanation: explained.explanation } };
}

interface Attempt {
  outcome: Outcome;
  order?: Prepared[];
}

function inJobOrder(job: QueuedJob, byComponent: ReadonlyMap<string, Placement>): PlacedJob {
  const placements: Placement[] = [];
  for (const component of job.components) {
    const placement = byComponent.get(component.id);
    if (placement !== undefined) placements.push(placement);
  }
  return { jobId: job.id, placements };
}

function placeJob(job: QueuedJob, ledger: BaselineLedger, reservedFor: string | undefined): Attempt {
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
  const spreadOn = new Map<string, string[]>();
  for (const { component, filter } of order) {
    const spread = component.spreadAcross === "node";
    const avoid = spread ? (spreadOn.get(component.type) ?? []) : [];
    const candidates: Candidate[] = [];
    for (const node of ledger.nodes) {
      if (!node.ready || node.cordoned === true || !satisfies(node, filter.entries) || avoid.includes(node.id))
        continue;
      if (!ledger.fits(node.id, component.resources)) continue;
      candidates.push({ node, free: keyOf(ledger, job.mode, job.metric, node) });
    }
    const chosen = selectNode(job.mode, candidates);
    if (chosen === undefined) {
      const eligibility = { filter, avoid: new Set(avoid), ...(reservedFor === undefined ? {} : { reservedFor }) };
      const explained = explainNoNode(component, ledger, byComponent.size, eligibility);
      ledger.rollback(mark);
      return { outcome: unplaced(job, explained, false), order };
    }
    const gpuIndices = ledger.take(chosen.node.id, component.resources);
    byComponent.set(component.id, { componentId: component.id, nodeId: chosen.node.id, gpuIndices });
    if (spread) spreadOn.set(component.type, [...avoid, chosen.node.id]);
  }
  return { outcome: { placed: inJobOrder(job, byComponent) } };
}

function placeOn(job: QueuedJob, order: readonly Prepared[], r: Reservation, ledger: BaselineLedger): PlacedJob {
  const byComponent = new Map<string, Placement>();
  for (const { component } of order) {
    const nodeId = r.nodes.find((n) => n.componentIds.includes(component.id))?.nodeId as string;
    byComponent.set(component.id, {
      componentId: component.id,
      nodeId,
      gpuIndices: ledger.take(nodeId, component.resources),
    });
  }
  return inJobOrder(job, byComponent);
}

/** The baseline's per-job entry point, like the package's Planner. */
export class BaselinePlanner {
  private readonly ledger: BaselineLedger;
  private readonly previous: readonly Reservation[] | undefined;
  reservation: Reservation | undefined;

  constructor(snapshot: Pick<Snapshot, "nodes" | "allocations" | "reservations">) {
    this.ledger = new BaselineLedger(snapshot.nodes, snapshot.allocations);
    this.previous = snapshot.reservations;
  }

  place(job: QueuedJob): Outcome {
    const attempt = placeJob(job, this.ledger, this.reservation?.jobId);
    if (attempt.order === undefined || this.reservation !== undefined) return attempt.outcome;
    const r = reserve(job, attempt.order, this.ledger, this.previous);
    if (r === undefined) return attempt.outcome;
    if (fitsNow(r, this.ledger)) return { placed: placeOn(job, attempt.order, r, this.ledger) };
    for (const n of r.nodes) this.ledger.hold(n.nodeId, n.resources);
    this.reservation = r;
    return attempt.outcome;
  }
}

/** schedule() as it was: same contract, O(components × nodes). */
export function baselineSchedule(snapshot: Snapshot, options: ScheduleOptions): Plan {
  void options;
  const planner = new BaselinePlanner(snapshot);
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
