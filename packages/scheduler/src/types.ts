// The scheduler's input and output. Everything here is plain data: the
// scheduler never does I/O, never reads a clock and never draws randomness
// except from the seed it is given.

export type AllocationMode = "single-metric-balanced" | "single-metric-compacted";
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
}

export interface QueuedJob {
  id: string;
  name: string;
  mode: AllocationMode;
  metric: Metric;
  components: ComponentRequest[];
  /** Queue order: lower first; ties broken by id. */
  submittedAt: number;
}

export interface Snapshot {
  /** Opaque version of the state the snapshot was read at; echoed in the plan. */
  version: number;
  nodes: NodeState[];
  allocations: Allocation[];
  queue: QueuedJob[];
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

/** Why nodes could not take a component, counted per reason. */
export interface UnplacedExplanation {
  /** The first component (in placement order) that found no node. */
  componentId: string;
  needs: Resources;
  nodesEvaluated: number;
  /** e.g. { "not ready": 1, "insufficient cpu": 2, "insufficient memory": 1 } */
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
}
