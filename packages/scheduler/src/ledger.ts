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

import { compareNodes } from "./order.js";
import type { Allocation, Metric, NodeState, Resources } from "./types.js";

interface Entry {
  node: NodeState;
  capacity: Resources;
  /** The node's distinct device indices, ascending. */
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

function quantity(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

export class Ledger {
  /** Distinct nodes (ready or not), ordered by name then id. */
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

  /** What the node could offer if it were empty. */
  capacity(nodeId: string): Resources {
    return { ...this.entry(nodeId).capacity };
  }

  private freeIndices(entry: Entry): number[] {
    return entry.indices.filter((i) => !entry.usedIndices.has(i));
  }

  /** What the node can offer now. gpu counts only devices that are free by count and by index. */
  free(nodeId: string): Resources {
    const e = this.entry(nodeId);
    return {
      cpuMillis: Math.max(0, e.capacity.cpuMillis - e.usedCpu),
      memoryBytes: Math.max(0, e.capacity.memoryBytes - e.usedMemory),
      gpu: Math.max(0, Math.min(e.capacity.gpu - e.usedGpu, this.freeIndices(e).length)),
    };
  }

  /** The first resource, in the order cpu, memory, gpu, that the node lacks for `request`; undefined if it fits. */
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

  /** Whether the node could hold `request` if it were empty. */
  couldEverFit(nodeId: string, request: Resources): boolean {
    const c = this.entry(nodeId).capacity;
    return request.cpuMillis <= c.cpuMillis && request.memoryBytes <= c.memoryBytes && request.gpu <= c.gpu;
  }

  /** Books `request` on the node and returns the gpu indices it gets (lowest free first). */
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

  mark(): Mark {
    return this.undo.length;
  }

  /** Undoes every `take` since `mark`, restoring the exact previous amounts. */
  rollback(mark: Mark): void {
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
