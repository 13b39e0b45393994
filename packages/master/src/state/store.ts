import type { ClusterMeta, JobRecord, NodeRecord } from "./records.js";

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
  close(): Promise<void>;
}
