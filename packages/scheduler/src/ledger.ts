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
// (name, then id, order). Picking a node for a request goes through a
// FreeIndex per key (free cpu, memory, gpu, or the all-resource score) and per
// set of constraints (built the first time a job uses them, holding only the
// schedulable nodes that satisfy them), kept up to date by take, hold and
// rollback in O(indexes holding the node × log nodes); reading the allocations
// is a one-off O(allocations) when the ledger is built.
//
// A reservation's share is held with `hold`: it is subtracted from what later
// requests see (`free`), while `unreservedFree` still shows the room itself,
// so explanations can tell "reserved" from "insufficient".

import { FreeIndex } from "./free-index.js";
import { NO_FILTER, type NodeFilter, satisfies } from "./labels.js";
import { compareNodes } from "./order.js";
import { freeScore } from "./score.js";
import type { Allocation, AllocationMode, Metric, NodeState, Resources } from "./types.js";

/** What explanations and reservations read from a ledger (also implemented by the scan-based baseline in bench/). */
export interface CapacityView {
  readonly nodes: readonly NodeState[];
  capacity(nodeId: string): Resources;
  /** What a new placement may use now: free room minus what is held for a reservation. */
  free(nodeId: string): Resources;
  /** Free room, counting what is held for a reservation as free. */
  unreservedFree(nodeId: string): Resources;
  lacking(nodeId: string, request: Resources): Metric | undefined;
  /** Like `lacking`, against `unreservedFree`. */
  lackingUnreserved(nodeId: string, request: Resources): Metric | undefined;
  couldEverFit(nodeId: string, request: Resources): boolean;
}

/** A point in the ledger's history that `rollback` can return to. */
export type Mark = number;

type Capacities = Array<readonly [number, number, number]>;
type Kind = "cpu" | "memory" | "gpu" | "score";

interface Keyed {
  kind: Kind;
  index: FreeIndex;
}

interface Matching {
  /** Positions of every node (any state) that satisfies the constraints. */
  positions: number[];
  capacities: Capacities;
}

const NO_INDICES: readonly number[] = [];

function quantity(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** Distinct capacities, none dominated by another (unless there are many distinct shapes). */
function undominated(all: Capacities): Capacities {
  const seen = new Map<string, readonly [number, number, number]>();
  for (const c of all) seen.set(c.join(","), c);
  const distinct = [...seen.values()];
  // Dropping dominated capacities only speeds up anyCouldEverFit; skip it when there are many distinct shapes.
  if (distinct.length > 256) return distinct;
  return distinct.filter((a) => !distinct.some((b) => b !== a && b[0] >= a[0] && b[1] >= a[1] && b[2] >= a[2]));
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
  /** Held for the reservation (never rolled back). */
  private readonly heldCpu: Float64Array;
  private readonly heldMemory: Float64Array;
  private readonly heldGpu: Float64Array;
  private readonly freeCpu: Float64Array;
  private readonly freeMemory: Float64Array;
  private readonly freeGpu: Float64Array;
  private readonly score: Float64Array;
  /** 1 for ready nodes that are not cordoned: the only ones indexes hold. */
  private readonly schedulable: Uint8Array;
  /** Nodes a search must pass over (set only for the duration of one select). */
  private readonly blocked: Uint8Array;
  /** Per node: its distinct device indices, ascending. */
  private readonly indices: (readonly number[])[];
  /** Per node: device indices in use (by allocations, possibly not the node's own, or by placements). */
  private readonly usedIndices: Set<number>[];
  /** Per node: how many of its own device indices are not in use. */
  private readonly freeIndexCount: Int32Array;
  private readonly matching = new Map<string, Matching>();
  private readonly indexes = new Map<string, Keyed>();
  private readonly indexList: Keyed[] = [];
  /** Per entry of indexList during an update: 0 node not held, 1 held, 2 held and re-keyed. */
  private updateState = new Uint8Array(0);
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
    this.heldCpu = new Float64Array(n);
    this.heldMemory = new Float64Array(n);
    this.heldGpu = new Float64Array(n);
    this.freeCpu = new Float64Array(n);
    this.freeMemory = new Float64Array(n);
    this.freeGpu = new Float64Array(n);
    this.score = new Float64Array(n);
    this.schedulable = new Uint8Array(n);
    this.blocked = new Uint8Array(n);
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
      this.schedulable[i] = node.ready && node.cordoned !== true ? 1 : 0;
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
    const capacities: Capacities = [];
    for (let i = 0; i < n; i++) {
      const used = this.usedIndices[i] as Set<number>;
      let free = 0;
      for (const index of this.indices[i] as readonly number[]) if (!used.has(index)) free++;
      this.freeIndexCount[i] = free;
      this.writeFree(i);
      capacities.push([this.capCpu[i] as number, this.capMemory[i] as number, this.capGpu[i] as number]);
    }
    this.matching.set("", { positions: [], capacities: undominated(capacities) });
  }

  private newFreeCpu(i: number): number {
    return Math.max(0, (this.capCpu[i] as number) - (this.usedCpu[i] as number) - (this.heldCpu[i] as number));
  }

  private newFreeMemory(i: number): number {
    return Math.max(0, (this.capMemory[i] as number) - (this.usedMemory[i] as number) - (this.heldMemory[i] as number));
  }

  private newFreeGpu(i: number): number {
    const room = Math.min((this.capGpu[i] as number) - (this.usedGpu[i] as number), this.freeIndexCount[i] as number);
    return Math.max(0, room - (this.heldGpu[i] as number));
  }

  /** Recomputes node i's free amounts and score from its capacity, use and holds. */
  private writeFree(i: number): void {
    const cpu = this.newFreeCpu(i);
    const memory = this.newFreeMemory(i);
    const gpu = this.newFreeGpu(i);
    this.freeCpu[i] = cpu;
    this.freeMemory[i] = memory;
    this.freeGpu[i] = gpu;
    this.score[i] = freeScore(
      this.capCpu[i] as number,
      this.capMemory[i] as number,
      this.capGpu[i] as number,
      cpu,
      memory,
      gpu,
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

  /** What a new placement may use now. gpu counts only devices that are free by count and by index. */
  free(nodeId: string): Resources {
    const i = this.at(nodeId);
    return {
      cpuMillis: this.freeCpu[i] as number,
      memoryBytes: this.freeMemory[i] as number,
      gpu: this.freeGpu[i] as number,
    };
  }

  unreservedFree(nodeId: string): Resources {
    const i = this.at(nodeId);
    return {
      cpuMillis: Math.max(0, (this.capCpu[i] as number) - (this.usedCpu[i] as number)),
      memoryBytes: Math.max(0, (this.capMemory[i] as number) - (this.usedMemory[i] as number)),
      gpu: Math.max(
        0,
        Math.min((this.capGpu[i] as number) - (this.usedGpu[i] as number), this.freeIndexCount[i] as number),
      ),
    };
  }

  /** What is held on the node for the reservation. */
  held(nodeId: string): Resources {
    const i = this.at(nodeId);
    return {
      cpuMillis: this.heldCpu[i] as number,
      memoryBytes: this.heldMemory[i] as number,
      gpu: this.heldGpu[i] as number,
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

  lackingUnreserved(nodeId: string, request: Resources): Metric | undefined {
    const free = this.unreservedFree(nodeId);
    if (request.cpuMillis > free.cpuMillis) return "cpu";
    if (request.memoryBytes > free.memoryBytes) return "memory";
    if (request.gpu > free.gpu) return "gpu";
    return undefined;
  }

  fits(nodeId: string, request: Resources): boolean {
    return this.lackingAt(this.at(nodeId), request) === undefined;
  }

  /** Whether the node could hold `request` if it were empty. */
  couldEverFit(nodeId: string, request: Resources): boolean {
    return this.couldEverFitAt(this.at(nodeId), request);
  }

  private couldEverFitAt(i: number, request: Resources): boolean {
    return (
      request.cpuMillis <= (this.capCpu[i] as number) &&
      request.memoryBytes <= (this.capMemory[i] as number) &&
      request.gpu <= (this.capGpu[i] as number)
    );
  }

  /** Nodes (any state) satisfying `filter`, computed once per distinct set of constraints. */
  private matchingOf(filter: NodeFilter): Matching {
    const known = this.matching.get(filter.key);
    if (known !== undefined) return known;
    const positions: number[] = [];
    const capacities: Capacities = [];
    for (const [i, node] of this.nodes.entries()) {
      if (!satisfies(node, filter.entries)) continue;
      positions.push(i);
      capacities.push([this.capCpu[i] as number, this.capMemory[i] as number, this.capGpu[i] as number]);
    }
    const matching = { positions, capacities: undominated(capacities) };
    this.matching.set(filter.key, matching);
    return matching;
  }

  /** Whether any node satisfying `filter`, ready or not, could hold `request` if it were empty. */
  anyCouldEverFit(request: Resources, filter: NodeFilter = NO_FILTER): boolean {
    return this.matchingOf(filter).capacities.some(
      (c) => request.cpuMillis <= c[0] && request.memoryBytes <= c[1] && request.gpu <= c[2],
    );
  }

  /** How many nodes satisfying `filter` could hold `request` if empty, counting no further than `atMost`. */
  countCouldEverFit(request: Resources, filter: NodeFilter, atMost: number): number {
    let count = 0;
    const visit = (i: number): boolean => {
      if (this.couldEverFitAt(i, request)) count++;
      return count < atMost;
    };
    if (filter.key === "") {
      for (let i = 0; i < this.nodes.length && visit(i); i++);
    } else {
      for (const i of this.matchingOf(filter).positions) if (!visit(i)) break;
    }
    return count;
  }

  private keyArray(kind: Kind): Float64Array {
    switch (kind) {
      case "cpu":
        return this.freeCpu;
      case "memory":
        return this.freeMemory;
      case "gpu":
        return this.freeGpu;
      case "score":
        return this.score;
    }
  }

  private index(kind: Kind, filter: NodeFilter): FreeIndex {
    const name = `${kind}\u0000${filter.key}`;
    const existing = this.indexes.get(name);
    if (existing !== undefined) return existing.index;
    const index = new FreeIndex(this.keyArray(kind), this.freeCpu, this.freeMemory, this.freeGpu, this.blocked);
    const members = filter.key === "" ? this.nodes.keys() : this.matchingOf(filter).positions.values();
    for (const i of members) if (this.schedulable[i] === 1) index.insert(i);
    const keyed = { kind, index };
    this.indexes.set(name, keyed);
    this.indexList.push(keyed);
    this.updateState = new Uint8Array(this.indexList.length);
    return index;
  }

  /**
   * The schedulable node (ready, not cordoned, satisfying `filter`, not in
   * `avoid`) that `request` fits on and `mode` prefers: balanced takes the most
   * free of `metric`, compacted the least free that fits, spread the highest
   * all-resource score, binpack the lowest; ties go to the node first by name,
   * then id. Undefined when it fits on no such node.
   */
  select(
    mode: AllocationMode,
    metric: Metric,
    request: Resources,
    filter: NodeFilter = NO_FILTER,
    avoid: readonly string[] = [],
  ): NodeState | undefined {
    const byScore = mode === "binpack" || mode === "spread";
    const index = this.index(byScore ? "score" : metric, filter);
    const { cpuMillis, memoryBytes, gpu } = request;
    for (const id of avoid) this.blocked[this.at(id)] = 1;
    let i: number;
    if (mode === "single-metric-balanced" || mode === "spread") {
      i = index.mostFree(cpuMillis, memoryBytes, gpu);
    } else {
      const low = byScore ? -Infinity : metric === "cpu" ? cpuMillis : metric === "memory" ? memoryBytes : gpu;
      i = index.leastFree(cpuMillis, memoryBytes, gpu, low);
    }
    for (const id of avoid) this.blocked[this.at(id)] = 0;
    return i < 0 ? undefined : this.nodes[i];
  }

  /**
   * Rewrites node i's free amounts after its use or holds changed, keeping the
   * indexes current: an index whose key changes gets the node removed (by its
   * old key, so before the rewrite) and re-inserted; the others only recompute
   * the maxima on the node's path.
   */
  private update(i: number): void {
    if (this.schedulable[i] !== 1 || this.indexList.length === 0) {
      this.writeFree(i);
      return;
    }
    const cpu = this.newFreeCpu(i);
    const memory = this.newFreeMemory(i);
    const gpu = this.newFreeGpu(i);
    const score = freeScore(
      this.capCpu[i] as number,
      this.capMemory[i] as number,
      this.capGpu[i] as number,
      cpu,
      memory,
      gpu,
    );
    const state = this.updateState;
    const list = this.indexList;
    for (let k = 0; k < list.length; k++) {
      const keyed = list[k] as Keyed;
      if (!keyed.index.has(i)) {
        state[k] = 0;
        continue;
      }
      const kind = keyed.kind;
      const next = kind === "cpu" ? cpu : kind === "memory" ? memory : kind === "gpu" ? gpu : score;
      const moves = (this.keyArray(kind)[i] as number) !== next;
      state[k] = moves ? 2 : 1;
      if (moves) keyed.index.remove(i);
    }
    this.writeFree(i);
    for (let k = 0; k < list.length; k++) {
      const keyed = list[k] as Keyed;
      if (state[k] === 2) keyed.index.insert(i);
      else if (state[k] === 1) keyed.index.refresh(i);
    }
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
    this.usedCpu[i] = (this.usedCpu[i] as number) + request.cpuMillis;
    this.usedMemory[i] = (this.usedMemory[i] as number) + request.memoryBytes;
    this.usedGpu[i] = (this.usedGpu[i] as number) + request.gpu;
    this.freeIndexCount[i] = (this.freeIndexCount[i] as number) - taken.length;
    this.update(i);
    return taken.length === 0 ? [] : [...taken];
  }

  /**
   * Holds `share` on the node for a reservation: later requests see that much
   * less free (never below zero) until the plan ends. Not undone by rollback.
   */
  hold(nodeId: string, share: Resources): void {
    const i = this.at(nodeId);
    this.heldCpu[i] = (this.heldCpu[i] as number) + share.cpuMillis;
    this.heldMemory[i] = (this.heldMemory[i] as number) + share.memoryBytes;
    this.heldGpu[i] = (this.heldGpu[i] as number) + share.gpu;
    this.update(i);
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
      this.usedCpu[i] = this.undoCpu.pop() as number;
      this.usedMemory[i] = this.undoMemory.pop() as number;
      this.usedGpu[i] = this.undoGpu.pop() as number;
      this.freeIndexCount[i] = (this.freeIndexCount[i] as number) + taken.length;
      this.update(i);
    }
  }
}
