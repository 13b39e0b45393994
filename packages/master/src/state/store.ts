import type { ClusterMeta, JobRecord, JoinTokenRecord, NodeRecord } from "./records.js";

export interface LoadedState {
  version: number;
  meta: ClusterMeta | null;
  jobs: JobRecord[];
  nodes: NodeRecord[];
}

/** Where the master keeps cluster state. The master is its only writer. */
export interface StateStore {
  load(): Promise<LoadedState>;
  saveMeta(meta: ClusterMeta): Promise<void>;
  /**
   * Writes the jobs and bumps the version, only if the stored version still
   * equals `expectedVersion`. Returns the new version, or null on conflict.
   */
  commit(expectedVersion: number, jobs: JobRecord[], removedJobs?: string[]): Promise<number | null>;
  saveNode(node: NodeRecord): Promise<void>;
  loadJoinToken(): Promise<JoinTokenRecord | null>;
  /** Replaces the join token; null revokes it. */
  saveJoinToken(token: JoinTokenRecord | null): Promise<void>;
  close(): Promise<void>;
  /** False while the store is unreachable (writes then wait for it). */
  available(): boolean;
}
