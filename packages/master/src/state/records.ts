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
}

export interface JobSpecRecord {
  name: string;
  allocationMode: "single-metric-balanced" | "single-metric-compacted";
  allocationMetric: "cpu" | "memory" | "gpu";
  components: ComponentSpecRecord[];
  sourceDir: string;
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
