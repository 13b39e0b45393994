import { Redis, type Result } from "ioredis";
import { clusterKeys, type Keys } from "./keys.js";
import { normaliseJob, normaliseNode } from "./normalise.js";
import type { ClusterMeta, JobRecord, JoinTokenRecord, NodeRecord } from "./records.js";
import type { LoadedState, StateStore } from "./store.js";

export interface RedisStoreOptions {
  url: string;
  cluster: string;
}

// KEYS: version, jobs hash, then one roster hash per job.
// ARGV: expected version, #jobs, #removed, (name, json) per job, removed
// names, then per job: #fields and its (field, value) pairs.
const COMMIT_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then return false end
local njobs = tonumber(ARGV[2])
local nremoved = tonumber(ARGV[3])
local i = 4
for _ = 1, njobs do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, nremoved do
  redis.call('HDEL', KEYS[2], ARGV[i])
  i = i + 1
end
for k = 1, njobs do
  local roster = KEYS[2 + k]
  local n = tonumber(ARGV[i])
  i = i + 1
  redis.call('DEL', roster)
  for _ = 1, n do
    redis.call('HSET', roster, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
end
return redis.call('INCR', KEYS[1])
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    maroCommit(numKeys: number, ...keysAndArgs: (string | number)[]): Result<number | null, Context>;
  }
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
  /** Node records waiting for the next HSET (name → JSON), and the promise of that HSET. */
  private readonly nodeBatch = new Map<string, string>();
  private nodeFlush: Promise<void> | null = null;

  constructor(options: RedisStoreOptions) {
    this.keys = clusterKeys(options.cluster);
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    // Connection errors are retried by ioredis; commands wait for the link.
    this.redis.on("error", () => {});
    this.redis.defineCommand("maroCommit", { lua: COMMIT_SCRIPT });
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

  /**
   * One round trip: a Lua script checks the version, writes every job and its
   * roster, and bumps the version, atomically. Records are serialised before
   * the first await, so what is written is the state at the call.
   */
  async commit(expectedVersion: number, jobs: JobRecord[], removedJobs: string[] = []): Promise<number | null> {
    const keys = [this.keys.version, this.keys.jobs];
    const args: (string | number)[] = [expectedVersion, jobs.length, removedJobs.length];
    for (const job of jobs) args.push(job.name, JSON.stringify(job));
    for (const name of removedJobs) args.push(name);
    for (const job of jobs) {
      // The roster is rewritten with the job, in the same transaction: peers
      // never see a placement the master did not commit.
      keys.push(this.keys.roster(job.id));
      const fields = rosterFields(job);
      args.push(fields.length / 2, ...fields);
    }
    const next = await this.redis.maroCommit(keys.length, ...keys, ...args);
    return next === null ? null : Number(next);
  }

  /**
   * Node records saved in this turn of the event loop go to Redis together, in
   * one HSET (one write and, with appendfsync always, one fsync for many agents
   * registering at once). Each caller's promise settles when that HSET has: the
   * record is persisted (or the save failed) before the caller goes on. The
   * record is serialised now, so later changes wait for the next save.
   */
  saveNode(node: NodeRecord): Promise<void> {
    this.nodeBatch.set(node.name, JSON.stringify(node));
    if (!this.nodeFlush)
      this.nodeFlush = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          const fields = [...this.nodeBatch].flat();
          this.nodeBatch.clear();
          this.nodeFlush = null;
          this.redis.hset(this.keys.nodes, ...fields).then(() => resolve(), reject);
        });
      });
    return this.nodeFlush;
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
