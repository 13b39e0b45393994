// The scheduler's input and output. Everything here is plain data: the
// scheduler never does I/O, never reads a clock and never draws randomness
// except from the seed it is given.

/**
 * How a node is picked among those a component fits on. MARO's two modes score
 * by one metric (the job's `metric`); `binpack` and `spread` score by all
 * resources at once (the mean free fraction of cpu, memory and, on gpu nodes, gpu).
 */
export type AllocationMode = "single-metric-balanced" | "single-metric-compacted" | "binpack" | "spread";
export type Metric = "cpu" | "memory" | "gpu";

/** cpu in millicores, memory in bytes, gpu as a device count. */
export interface Resources {
  cpuMillis: number;
  memoryBytes: number;
  gpu: number;
}

export interface NodeState {
  id: string;
  name: string;
  /** Only ready nodes receive work. */
  ready: boolean;
  /** What the node offers to jobs in total (after the agent's reservation). */
  allocatable: Resources;
  /** The node's GPU device indices available to jobs; length equals allocatable.gpu. */
  gpuIndices: number[];
  /** Labels the node carries (e.g. {gpu_model: "A100"}), matched by component constraints. */
  labels?: Record<string, string>;
  /** A cordoned node keeps what runs on it but takes no new placement. */
  cordoned?: boolean;
}

/** Resources already committed on a node (running or starting components). */
export interface Allocation {
  jobId: string;
  componentId: string;
  nodeId: string;
  resources: Resources;
  gpuIndices: number[];
}

export interface ComponentRequest {
  /** Unique within its job, e.g. "learner-0". */
  id: string;
  type: string;
  index: number;
  resources: Resources;
  /** Labels a node must carry, each with exactly this value, to host a replica. */
  constraints?: Record<string, string>;
  /** "node": no two components of this type of the same job on one node. */
  spreadAcross?: "node";
}

export interface QueuedJob {
  id: string;
  name: string;
  mode: AllocationMode;
  metric: Metric;
  components: ComponentRequest[];
  /** Queue order, after priority: lower first; ties broken by id. */
  submittedAt: number;
  /** Higher first; an integer in the int32 range; default 0. */
  priority?: number;
}

export interface Snapshot {
  /** Opaque version of the state the snapshot was read at; echoed in the plan. */
  version: number;
  nodes: NodeState[];
  allocations: Allocation[];
  queue: QueuedJob[];
  /**
   * The previous plan's reservations (optional). A job that is still the first
   * blocked job keeps its reservation when it is still valid, so the nodes held
   * for it do not move from plan to plan while other work fills the rest.
   */
  reservations?: Reservation[];
}

export interface ScheduleOptions {
  now: number;
  seed?: number;
}

export interface Placement {
  componentId: string;
  nodeId: string;
  gpuIndices: number[];
}

export interface PlacedJob {
  jobId: string;
  placements: Placement[];
}

/** What a reservation holds on one node: the sum of the components it keeps room for. */
export interface ReservedNode {
  nodeId: string;
  resources: Resources;
  /** The job's components this node's room is kept for. */
  componentIds: string[];
}

/**
 * Room held for the first job in queue order that could run on this cluster
 * but does not fit now. Later jobs may use a reserved node only where they
 * leave the job's share free; running work that ends frees room for it.
 */
export interface Reservation {
  jobId: string;
  /** In node order (name, then id). */
  nodes: ReservedNode[];
}

/** Why nodes could not take a component, counted per reason. */
export interface UnplacedExplanation {
  /** The first component (in placement order) that found no node. */
  componentId: string;
  needs: Resources;
  nodesEvaluated: number;
  /**
   * Nodes counted once each, by the first reason that rules them out, in this
   * order: "not ready", "cordoned", "constraint <key>", "spread",
   * "insufficient cpu|memory|gpu", "reserved".
   */
  filtered: Record<string, number>;
}

export interface UnplacedJob {
  jobId: string;
  /** One human sentence, e.g. "learner-0 needs 4 cpu; largest free is 2 cpu on node-1". */
  reason: string;
  /** True when no node could ever fit it, even empty. */
  neverFits: boolean;
  explanation: UnplacedExplanation;
}

export interface Plan {
  snapshotVersion: number;
  placed: PlacedJob[];
  unplaced: UnplacedJob[];
  /** At most one: the reservation of the first blocked job that could run on this cluster. */
  reservations: Reservation[];
}
