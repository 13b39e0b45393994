import { Redis } from "ioredis";
import { clusterKeys, type Keys } from "./keys.js";
import { normaliseJob, normaliseNode } from "./normalise.js";
import type { ClusterMeta, JobRecord, JoinTokenRecord, NodeRecord } from "./records.js";
import type { LoadedState, StateStore } from "./store.js";

export interface RedisStoreOptions {
  url: string;
  cluster: string;
}

function rosterFields(job: JobRecord): string[] {
  const fields: string[] = [];
  for (const c of job.components)
    fields.push(
      c.id,
      JSON.stringify({
        type: c.type,
        index: c.index,
        node: c.nodeId,
        address: c.address,
        container: c.containerName,
        state: c.state,
        restarts: c.restarts,
      }),
    );
  return fields;
}

/** StateStore over Redis: jobs and nodes in hashes, commits with WATCH/MULTI on a version key. */
export class RedisStateStore implements StateStore {
  readonly redis: Redis;
  private readonly keys: Keys;

  constructor(options: RedisStoreOptions) {
    this.keys = clusterKeys(options.cluster);
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    // Connection errors are retried by ioredis; commands wait for the link.
    this.redis.on("error", () => {});
  }

  async connect(): Promise<void> {
    await this.redis.connect();
  }

  async load(): Promise<LoadedState> {
    const [version, meta, jobs, nodes] = await Promise.all([
      this.redis.get(this.keys.version),
      this.redis.get(this.keys.meta),
      this.redis.hvals(this.keys.jobs),
      this.redis.hvals(this.keys.nodes),
    ]);
    return {
      version: Number(version ?? 0),
      meta: meta ? (JSON.parse(meta) as ClusterMeta) : null,
      jobs: jobs.map((j) => normaliseJob(JSON.parse(j) as JobRecord)),
      nodes: nodes.map((n) => normaliseNode(JSON.parse(n) as NodeRecord)),
    };
  }

  async saveMeta(meta: ClusterMeta): Promise<void> {
    await this.redis.set(this.keys.meta, JSON.stringify(meta));
  }

  async commit(expectedVersion: number, jobs: JobRecord[], removedJobs: string[] = []): Promise<number | null> {
    await this.redis.watch(this.keys.version);
    const current = Number((await this.redis.get(this.keys.version)) ?? 0);
    if (current !== expectedVersion) {
      await this.redis.unwatch();
      return null;
    }
    const tx = this.redis.multi();
    if (jobs.length > 0) {
      const fields: string[] = [];
      for (const job of jobs) fields.push(job.name, JSON.stringify(job));
      tx.hset(this.keys.jobs, ...fields);
    }
    for (const job of jobs) {
      // The roster is rewritten with the job, in the same transaction: peers
      // never see a placement the master did not commit.
      const roster = this.keys.roster(job.id);
      tx.del(roster);
      tx.hset(roster, ...rosterFields(job));
    }
    if (removedJobs.length > 0) tx.hdel(this.keys.jobs, ...removedJobs);
    tx.incr(this.keys.version);
    const result = await tx.exec();
    if (result === null) return null;
    return expectedVersion + 1;
  }

  async saveNode(node: NodeRecord): Promise<void> {
    await this.redis.hset(this.keys.nodes, node.name, JSON.stringify(node));
  }

  async loadJoinToken(): Promise<JoinTokenRecord | null> {
    const raw = await this.redis.get(this.keys.joinToken);
    return raw ? (JSON.parse(raw) as JoinTokenRecord) : null;
  }

  async saveJoinToken(token: JoinTokenRecord | null): Promise<void> {
    if (token) await this.redis.set(this.keys.joinToken, JSON.stringify(token));
    else await this.redis.del(this.keys.joinToken);
  }

  available(): boolean {
    return this.redis.status === "ready";
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
