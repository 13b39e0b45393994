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
}

export function clusterKeys(cluster: string): Keys {
  const prefix = `maro:${cluster}`;
  return {
    version: `${prefix}:version`,
    jobs: `${prefix}:jobs`,
    nodes: `${prefix}:nodes`,
    meta: `${prefix}:meta`,
    joinToken: `${prefix}:join-token`,
  };
}
