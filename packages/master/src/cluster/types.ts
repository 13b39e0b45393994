import type { Logger, MasterMessage } from "@maro/proto";
import type { StateStore } from "../state/store.js";
import type { DispatchContext } from "./dispatch.js";

/** The master's link to one connected agent. */
export interface AgentSession {
  send(message: MasterMessage): void;
  close(reason: string): void;
}

export interface ClusterEventRecord {
  timeMs: number;
  kind: "job" | "component" | "node" | "anomaly";
  job: string;
  component: string;
  node: string;
  /** For anomalies, the anomaly's kind. */
  state: string;
  message: string;
  /** Anomalies only: "info", "warning" or "critical". */
  severity?: string;
}

export interface ControllerOptions {
  store: StateStore;
  dispatch: DispatchContext;
  log: Logger;
  heartbeatTtlMs: number;
  stopGraceSeconds: number;
  /** The sha256 of an image pushed to the cluster under this name, so agents load it first. */
  imageSha256?: (name: string) => Promise<string | null>;
  now?: () => number;
}
