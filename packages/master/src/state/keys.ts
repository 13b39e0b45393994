// Every Redis key the master uses is built here and nowhere else.
export interface Keys {
  /** Incremented on every committed change; plans are committed against it. */
  version: string;
  /** Hash: job name → job record (JSON). */
  jobs: string;
  /** Hash: node name → node record (JSON). */
  nodes: string;
  /** String: cluster metadata (JSON). */
  meta: string;
  /** String: the current join token's id and secret hash (JSON); absent when revoked. */
  joinToken: string;
  /**
   * Hash: one job's roster, component id → {type, index, node, address,
   * container, state, restarts} (JSON). Components read it to find peers.
   */
  roster(jobId: string): string;
  /** List: the newest cluster events and anomalies (JSON), capped. */
  events: string;
  /** List: one job's newest anomalies (JSON), capped; by job id, so a resubmitted name starts empty. */
  jobAnomalies(jobId: string): string;
  /** List: one node's resource history, one point per 10 s bucket (JSON), capped. */
  nodeMetrics(node: string): string;
}

export function clusterKeys(cluster: string): Keys {
  const prefix = `maro:${cluster}`;
  return {
    version: `${prefix}:version`,
    jobs: `${prefix}:jobs`,
    nodes: `${prefix}:nodes`,
    meta: `${prefix}:meta`,
    joinToken: `${prefix}:join-token`,
    roster: (jobId) => `${prefix}:roster:${jobId}`,
    events: `${prefix}:events`,
    jobAnomalies: (jobId) => `${prefix}:job-anomalies:${jobId}`,
    nodeMetrics: (node) => `${prefix}:node-metrics:${node}`,
  };
}
