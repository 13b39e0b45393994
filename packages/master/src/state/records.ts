import type { Resources } from "@maro/scheduler";

// The master's persisted records. Plain JSON so Redis holds exactly these.

export type JobState = "pending" | "scheduled" | "running" | "succeeded" | "failed" | "killed";
export type ComponentState =
  | "pending"
  | "starting"
  | "running"
  | "restarting"
  | "succeeded"
  | "failed"
  | "killed"
  | "lost";
export type NodeStateName = "ready" | "down";

export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(["succeeded", "failed", "killed"]);
export const TERMINAL_COMPONENT_STATES: ReadonlySet<ComponentState> = new Set([
  "succeeded",
  "failed",
  "killed",
  "lost",
]);

export interface RestartPolicyRecord {
  policy: "never" | "on-failure" | "always";
  max: number;
  backoffMs: number;
}

export interface ComponentSpecRecord {
  restart: RestartPolicyRecord;
  type: string;
  image: string;
  resources: Resources;
  num: number;
  mountTarget: string;
  command: string[];
  shell: boolean;
  /** Node labels a replica's node must carry (`{gpu_model: "A100"}`); {} for any node. Older records lack it: loaded as {}. */
  constraints: Record<string, string>;
  /** "node": no two replicas of this component on one node; "" for no rule. Older records lack it: loaded as "". */
  spreadAcross: "" | "node";
}

export interface JobSpecRecord {
  name: string;
  /** binpack and spread weigh every resource; allocationMetric is then ignored (stored as "cpu"). */
  allocationMode: "single-metric-balanced" | "single-metric-compacted" | "binpack" | "spread";
  allocationMetric: "cpu" | "memory" | "gpu";
  components: ComponentSpecRecord[];
  sourceDir: string;
  /** Higher runs first; an int32. Older records lack it: loaded as 0. */
  priority: number;
  /** The schedule that started the job; "" for `job start`. Older records lack it: loaded as "". */
  schedule: string;
}

export interface ComponentRecord {
  /** `${type}-${index}`, unique in the job. */
  id: string;
  type: string;
  index: number;
  resources: Resources;
  state: ComponentState;
  nodeId: string;
  containerName: string;
  gpuIndices: number[];
  exitCode: number | null;
  oomKilled: boolean;
  message: string;
  outputTail: string;
  startedAtMs: number;
  finishedAtMs: number;
  /** Times this replica was restarted by its policy. */
  restarts: number;
  /** Its node's address when placed: where peers reach it (the job's roster). */
  address: string;
}

/**
 * A container of an earlier placement of the job that was told to stop when
 * the job was placed again. It holds its node's resources until its exit is
 * reported, and the job is not placed again before then: no replica runs twice.
 */
export interface RetiredContainerRecord {
  containerName: string;
  nodeId: string;
  resources: Resources;
  gpuIndices: number[];
  retiredAtMs: number;
}

/** Why the scheduler left a job pending: nodes counted by the reason each was filtered. */
export interface ExplanationRecord {
  componentId: string;
  needs: Resources;
  nodesEvaluated: number;
  filtered: Record<string, number>;
}

export interface JobRecord {
  id: string;
  name: string;
  state: JobState;
  reason: string;
  spec: JobSpecRecord;
  components: ComponentRecord[];
  stopRequested: boolean;
  /** Why the stop was requested, when not by a user (e.g. a component's exit code 65). */
  stopReason?: string;
  submittedAtMs: number;
  scheduledAtMs: number;
  finishedAtMs: number;
  /** Times the whole job was placed again after a node was lost or drained. */
  attempt: number;
  retired: RetiredContainerRecord[];
  /** Set while pending and unplaced. */
  explanation: ExplanationRecord | null;
}

export interface NodeRecord {
  id: string;
  name: string;
  state: NodeStateName;
  address: string;
  runtime: string;
  agentVersion: string;
  allocatable: Resources;
  gpuIndices: number[];
  lastHeartbeatMs: number;
  registeredAtMs: number;
  /** No new placements (cordon or drain); survives the agent's reconnects. */
  cordoned: boolean;
  labels: Record<string, string>;
}

export interface ClusterMeta {
  id: string;
  name: string;
  createdAtMs: number;
}

/** What the master keeps of a join token: never the secret itself. */
export interface JoinTokenRecord {
  id: string;
  secretHash: string;
  createdAtMs: number;
}
