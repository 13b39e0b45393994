// The scan-based scheduler as it was before the free-capacity index (issue 6):
// every component checks every node. Kept as the in-run baseline of
// bench/scheduler.ts and as the reference of the equivalence property test
// (packages/scheduler/test/equivalence.test.ts). Copied from
// packages/scheduler/src/{ledger,select-node,schedule}.ts; ordering, validation
// and explanations are shared with the package (they did not change).

import { type Explained, explainNeverFits, explainNoNode } from "../../packages/scheduler/src/explain.js";
import { compareNodes, metricOf, placementOrder, queueOrder } from "../../packages/scheduler/src/order.js";
import type {
  Allocation,
  AllocationMode,
  Metric,
  NodeState,
  PlacedJob,
  Placement,
  Plan,
  QueuedJob,
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

  free(nodeId: string): Resources {
    const e = this.entry(nodeId);
    return {
      cpuMillis: Math.max(0, e.capacity.cpuMillis - e.usedCpu),
      memoryBytes: Math.max(0, e.capacity.memoryBytes - e.usedMemory),
      gpu: Math.max(0, Math.min(e.capacity.gpu - e.usedGpu, this.freeIndices(e).length)),
    };
  }

  lacking(nodeId: string, request: Resources): Metric | undefined {
    const free = this.free(nodeId);
    if (request.cpuMillis > free.cpuMillis) return "cpu";
    if (request.memoryBytes > free.memoryBytes) return "memory";
    if (request.gpu > free.gpu) return "gpu";
    return undefined;
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
  const byFree = mode === "single-metric-balanced" ? b.free - a.free : a.free - b.free;
  return byFree || compareNodes(a.node, b.node);
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

function placeJob(job: QueuedJob, ledger: BaselineLedger): Outcome {
  const problem = validateJob(job);
  if (problem !== undefined) {
    const component = job.components.find((c) => c.id === problem.componentId);
    const needs = component === undefined ? { cpuMillis: 0, memoryBytes: 0, gpu: 0 } : { ...component.resources };
    const explanation = { componentId: problem.componentId, needs, nodesEvaluated: 0, filtered: {} };
    return unplaced(job, { reason: problem.reason, explanation }, true);
  }

  const order = placementOrder(job.components, job.metric);
  for (const component of order) {
    const never = explainNeverFits(component, ledger);
    if (never !== undefined) return unplaced(job, never, true);
  }

  const mark = ledger.mark();
  const byComponent = new Map<string, Placement>();
  for (const component of order) {
    const candidates: Candidate[] = [];
    for (const node of ledger.nodes) {
      if (!node.ready || !ledger.fits(node.id, component.resources)) continue;
      candidates.push({ node, free: metricOf(ledger.free(node.id), job.metric) });
    }
    const chosen = selectNode(job.mode, candidates);
    if (chosen === undefined) {
      const explained = explainNoNode(component, ledger, byComponent.size);
      ledger.rollback(mark);
      return unplaced(job, explained, false);
    }
    const gpuIndices = ledger.take(chosen.node.id, component.resources);
    byComponent.set(component.id, { componentId: component.id, nodeId: chosen.node.id, gpuIndices });
  }

  const placements: Placement[] = [];
  for (const component of job.components) {
    const placement = byComponent.get(component.id);
    if (placement !== undefined) placements.push(placement);
  }
  return { placed: { jobId: job.id, placements } };
}

/** The baseline's per-job entry point, like the package's Planner. */
export class BaselinePlanner {
  private readonly ledger: BaselineLedger;

  constructor(snapshot: Pick<Snapshot, "nodes" | "allocations">) {
    this.ledger = new BaselineLedger(snapshot.nodes, snapshot.allocations);
  }

  place(job: QueuedJob): Outcome {
    return placeJob(job, this.ledger);
  }
}

/** schedule() as it was: same contract, O(components × nodes). */
export function baselineSchedule(snapshot: Snapshot, options: ScheduleOptions): Plan {
  void options;
  const ledger = new BaselineLedger(snapshot.nodes, snapshot.allocations);
  const plan: Plan = { snapshotVersion: snapshot.version, placed: [], unplaced: [] };
  const seen = new Set<string>();
  for (const job of queueOrder(snapshot.queue)) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    const outcome = placeJob(job, ledger);
    if ("placed" in outcome) plan.placed.push(outcome.placed);
    else plan.unplaced.push(outcome.unplaced);
  }
  return plan;
}
