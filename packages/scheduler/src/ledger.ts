// Free capacity per node: allocatable minus existing allocations minus the
// placements made so far in this plan. GPUs are tracked as device indices.
//
// Input is treated defensively because it comes from a store written by other
// processes: the first node with a given id wins, allocations on unknown nodes
// are ignored, negative or non-finite quantities count as zero, and a node's
// gpu capacity is the smaller of allocatable.gpu and its distinct gpuIndices
// (non-negative integers).
// Free amounts never go below zero, even when existing allocations already
// over-commit a node.
//
// Amounts live in typed arrays indexed by the node's position in `nodes`
// (name, then id, order). Picking a node for a request goes through one
// FreeIndex per metric (built the first time a job uses that metric), kept up
// to date by take and rollback in O(log nodes); reading the allocations is a
// one-off O(allocations) when the ledger is built.

import { FreeIndex } from "./free-index.js";
import { compareNodes } from "./order.js";
import type { Allocation, AllocationMode, Metric, NodeState, Resources } from "./types.js";

/** What explanations read from a ledger (also implemented by the scan-based baseline in bench/). */
export interface CapacityView {
  readonly nodes: readonly NodeState[];
  capacity(nodeId: string): Resources;
  free(nodeId: string): Resources;
  lacking(nodeId: string, request: Resources): Metric | undefined;
  couldEverFit(nodeId: string, request: Resources): boolean;
}

/** A point in the ledger's history that `rollback` can return to. */
export type Mark = number;

const NO_INDICES: readonly number[] = [];

function quantity(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export class Ledger implements CapacityView {
  /** Distinct nodes (ready or not), ordered by name then id. */
  readonly nodes: readonly NodeState[];
  private readonly position = new Map<string, number>();
  private readonly capCpu: Float64Array;
  private readonly capMemory: Float64Array;
  private readonly capGpu: Float64Array;
  private readonly usedCpu: Float64Array;
  private readonly usedMemory: Float64Array;
  private readonly usedGpu: Float64Array;
  private readonly freeCpu: Float64Array;
  private readonly freeMemory: Float64Array;
  private readonly freeGpu: Float64Array;
  /** Per node: its distinct device indices, ascending. */
  private readonly indices: (readonly number[])[];
  /** Per node: device indices in use (by allocations, possibly not the node's own, or by placements). */
  private readonly usedIndices: Set<number>[];
  /** Per node: how many of its own device indices are not in use. */
  private readonly freeIndexCount: Int32Array;
  /** Distinct node capacities [cpu, memory, gpu], none dominated by another. */
  private readonly largestCapacities: Array<readonly [number, number, number]>;
  private readonly indexes: Partial<Record<Metric, FreeIndex>> = {};
  // Undo log, as parallel stacks (one entry per take).
  private readonly undoNode: number[] = [];
  private readonly undoCpu: number[] = [];
  private readonly undoMemory: number[] = [];
  private readonly undoGpu: number[] = [];
  private readonly undoIndices: (readonly number[])[] = [];

  constructor(nodes: readonly NodeState[], allocations: readonly Allocation[]) {
    const distinct = new Map<string, NodeState>();
    for (const node of nodes) if (!distinct.has(node.id)) distinct.set(node.id, node);
    this.nodes = [...distinct.values()].sort(compareNodes);
    const n = this.nodes.length;
    this.capCpu = new Float64Array(n);
    this.capMemory = new Float64Array(n);
    this.capGpu = new Float64Array(n);
    this.usedCpu = new Float64Array(n);
    this.usedMemory = new Float64Array(n);
    this.usedGpu = new Float64Array(n);
    this.freeCpu = new Float64Array(n);
    this.freeMemory = new Float64Array(n);
    this.freeGpu = new Float64Array(n);
    this.freeIndexCount = new Int32Array(n);
    this.indices = [];
    this.usedIndices = [];
    for (const [i, node] of this.nodes.entries()) {
      this.position.set(node.id, i);
      const indices = [...new Set(node.gpuIndices.filter((x) => Number.isInteger(x) && x >= 0))].sort((a, b) => a - b);
      this.indices.push(indices);
      this.usedIndices.push(new Set());
      this.capCpu[i] = quantity(node.allocatable.cpuMillis);
      this.capMemory[i] = quantity(node.allocatable.memoryBytes);
      this.capGpu[i] = Math.min(Math.floor(quantity(node.allocatable.gpu)), indices.length);
    }
    for (const allocation of allocations) {
      const i = this.position.get(allocation.nodeId);
      if (i === undefined) continue;
      this.usedCpu[i] = (this.usedCpu[i] as number) + quantity(allocation.resources.cpuMillis);
      this.usedMemory[i] = (this.usedMemory[i] as number) + quantity(allocation.resources.memoryBytes);
      this.usedGpu[i] = (this.usedGpu[i] as number) + quantity(allocation.resources.gpu);
      const used = this.usedIndices[i] as Set<number>;
      for (const index of allocation.gpuIndices) used.add(index);
    }
    for (let i = 0; i < n; i++) {
      const used = this.usedIndices[i] as Set<number>;
      let free = 0;
      for (const index of this.indices[i] as readonly number[]) if (!used.has(index)) free++;
      this.freeIndexCount[i] = free;
      this.refresh(i);
    }
    this.largestCapacities = this.undominatedCapacities();
  }

  private undominatedCapacities(): Array<readonly [number, number, number]> {
    const seen = new Map<string, readonly [number, number, number]>();
    for (let i = 0; i < this.nodes.length; i++) {
      const c = [this.capCpu[i] as number, this.capMemory[i] as number, this.capGpu[i] as number] as const;
      seen.set(c.join(","), c);
    }
    const all = [...seen.values()];
    // Dropping dominated capacities only speeds up anyCouldEverFit; skip it when there are many distinct shapes.
    if (all.length > 256) return all;
    return all.filter((a) => !all.some((b) => b !== a && b[0] >= a[0] && b[1] >= a[1] && b[2] >= a[2]));
  }

  /** Recomputes node i's free amounts from its capacity and use. */
  private refresh(i: number): void {
    this.freeCpu[i] = Math.max(0, (this.capCpu[i] as number) - (this.usedCpu[i] as number));
    this.freeMemory[i] = Math.max(0, (this.capMemory[i] as number) - (this.usedMemory[i] as number));
    this.freeGpu[i] = Math.max(
      0,
      Math.min((this.capGpu[i] as number) - (this.usedGpu[i] as number), this.freeIndexCount[i] as number),
    );
  }

  private at(nodeId: string): number {
    const i = this.position.get(nodeId);
    if (i === undefined) throw new Error(`ledger: unknown node ${nodeId}`);
    return i;
  }

  /** What the node could offer if it were empty. */
  capacity(nodeId: string): Resources {
    const i = this.at(nodeId);
    return {
      cpuMillis: this.capCpu[i] as number,
      memoryBytes: this.capMemory[i] as number,
      gpu: this.capGpu[i] as number,
    };
  }

  /** What the node can offer now. gpu counts only devices that are free by count and by index. */
  free(nodeId: string): Resources {
    const i = this.at(nodeId);
    return {
      cpuMillis: this.freeCpu[i] as number,
      memoryBytes: this.freeMemory[i] as number,
      gpu: this.freeGpu[i] as number,
    };
  }

  private lackingAt(i: number, request: Resources): Metric | undefined {
    if (request.cpuMillis > (this.freeCpu[i] as number)) return "cpu";
    if (request.memoryBytes > (this.freeMemory[i] as number)) return "memory";
    if (request.gpu > (this.freeGpu[i] as number)) return "gpu";
    return undefined;
  }

  /** The first resource, in the order cpu, memory, gpu, that the node lacks for `request`; undefined if it fits. */
  lacking(nodeId: string, request: Resources): Metric | undefined {
    return this.lackingAt(this.at(nodeId), request);
  }

  fits(nodeId: string, request: Resources): boolean {
    return this.lackingAt(this.at(nodeId), request) === undefined;
  }

  /** Whether the node could hold `request` if it were empty. */
  couldEverFit(nodeId: string, request: Resources): boolean {
    const i = this.at(nodeId);
    return (
      request.cpuMillis <= (this.capCpu[i] as number) &&
      request.memoryBytes <= (this.capMemory[i] as number) &&
      request.gpu <= (this.capGpu[i] as number)
    );
  }

  /** Whether any node, ready or not, could hold `request` if it were empty. */
  anyCouldEverFit(request: Resources): boolean {
    return this.largestCapacities.some(
      (c) => request.cpuMillis <= c[0] && request.memoryBytes <= c[1] && request.gpu <= c[2],
    );
  }

  private index(metric: Metric): FreeIndex {
    const existing = this.indexes[metric];
    if (existing !== undefined) return existing;
    const key = metric === "cpu" ? this.freeCpu : metric === "memory" ? this.freeMemory : this.freeGpu;
    const index = new FreeIndex(key, this.freeCpu, this.freeMemory, this.freeGpu);
    for (const [i, node] of this.nodes.entries()) if (node.ready) index.insert(i);
    this.indexes[metric] = index;
    return index;
  }

  /**
   * The ready node `request` fits on that `mode` prefers by free `metric`:
   * balanced takes the most free, compacted the least free; ties go to the
   * node first by name, then id. Undefined when it fits on no ready node.
   */
  select(mode: AllocationMode, metric: Metric, request: Resources): NodeState | undefined {
    const index = this.index(metric);
    const { cpuMillis, memoryBytes, gpu } = request;
    const i =
      mode === "single-metric-balanced"
        ? index.mostFree(cpuMillis, memoryBytes, gpu)
        : index.leastFree(
            cpuMillis,
            memoryBytes,
            gpu,
            metric === "cpu" ? cpuMillis : metric === "memory" ? memoryBytes : gpu,
          );
    return i < 0 ? undefined : this.nodes[i];
  }

  /**
   * Sets node i's use and keeps the indexes current: an index whose key (free
   * amount of its metric) changes gets the node removed and re-inserted; the
   * others only recompute the maxima on the node's path.
   */
  private setUse(i: number, cpu: number, memory: number, gpu: number, freeIndices: number): void {
    const indexed = this.nodes[i]?.ready === true;
    const oldCpu = this.freeCpu[i] as number;
    const oldMemory = this.freeMemory[i] as number;
    const oldGpu = this.freeGpu[i] as number;
    this.usedCpu[i] = cpu;
    this.usedMemory[i] = memory;
    this.usedGpu[i] = gpu;
    this.freeIndexCount[i] = freeIndices;
    if (!indexed) {
      this.refresh(i);
      return;
    }
    const { cpu: byCpu, memory: byMemory, gpu: byGpu } = this.indexes;
    // Removal searches by the old key, so it happens before the free amounts are rewritten.
    const newCpu = Math.max(0, (this.capCpu[i] as number) - cpu);
    const newMemory = Math.max(0, (this.capMemory[i] as number) - memory);
    const newGpu = Math.max(0, Math.min((this.capGpu[i] as number) - gpu, freeIndices));
    const movesCpu = newCpu !== oldCpu;
    const movesMemory = newMemory !== oldMemory;
    const movesGpu = newGpu !== oldGpu;
    if (movesCpu) byCpu?.remove(i);
    if (movesMemory) byMemory?.remove(i);
    if (movesGpu) byGpu?.remove(i);
    this.refresh(i);
    if (movesCpu) byCpu?.insert(i);
    else byCpu?.refresh(i);
    if (movesMemory) byMemory?.insert(i);
    else byMemory?.refresh(i);
    if (movesGpu) byGpu?.insert(i);
    else byGpu?.refresh(i);
  }

  /** Books `request` on the node and returns the gpu indices it gets (lowest free first). */
  take(nodeId: string, request: Resources): number[] {
    const i = this.at(nodeId);
    if (this.lackingAt(i, request) !== undefined) throw new Error(`ledger: request does not fit on node ${nodeId}`);
    const used = this.usedIndices[i] as Set<number>;
    const taken: number[] = [];
    if (request.gpu > 0) {
      for (const index of this.indices[i] as readonly number[]) {
        if (taken.length >= request.gpu) break;
        if (!used.has(index)) taken.push(index);
      }
    }
    this.undoNode.push(i);
    this.undoCpu.push(this.usedCpu[i] as number);
    this.undoMemory.push(this.usedMemory[i] as number);
    this.undoGpu.push(this.usedGpu[i] as number);
    this.undoIndices.push(taken.length === 0 ? NO_INDICES : taken);
    for (const index of taken) used.add(index);
    this.setUse(
      i,
      (this.usedCpu[i] as number) + request.cpuMillis,
      (this.usedMemory[i] as number) + request.memoryBytes,
      (this.usedGpu[i] as number) + request.gpu,
      (this.freeIndexCount[i] as number) - taken.length,
    );
    return taken.length === 0 ? [] : [...taken];
  }

  mark(): Mark {
    return this.undoNode.length;
  }

  /** Undoes every `take` since `mark`, restoring the exact previous amounts. */
  rollback(mark: Mark): void {
    while (this.undoNode.length > mark) {
      const i = this.undoNode.pop() as number;
      const taken = this.undoIndices.pop() ?? NO_INDICES;
      const used = this.usedIndices[i] as Set<number>;
      for (const index of taken) used.delete(index);
      const cpu = this.undoCpu.pop() as number;
      const memory = this.undoMemory.pop() as number;
      const gpu = this.undoGpu.pop() as number;
      this.setUse(i, cpu, memory, gpu, (this.freeIndexCount[i] as number) + taken.length);
    }
  }
}
