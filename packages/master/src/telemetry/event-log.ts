import type { ChainableCommander, Redis } from "ioredis";
import type { Keys } from "../state/keys.js";
import type { StoredEvent } from "./types.js";

export interface EventLogOptions {
  keys: Keys;
  /** Events kept (the newest), in Redis and in memory. */
  kept: number;
  /** Anomalies kept per job. */
  keptPerJob: number;
  /** Jobs whose anomalies are held in memory, at most (the least recently touched go first). */
  jobsInMemory: number;
  /** How long a job's anomaly list lives in Redis after its last anomaly. */
  jobAnomaliesTtlMs: number;
}

export interface EventFilter {
  job: string;
  node: string;
  anomaliesOnly: boolean;
  limit: number;
}

const KINDS = new Set(["job", "component", "node", "anomaly"]);

function parseEvent(raw: string): StoredEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
  if (typeof o.timeMs !== "number" || !KINDS.has(str("kind"))) return null;
  return {
    timeMs: o.timeMs,
    kind: str("kind") as StoredEvent["kind"],
    job: str("job"),
    component: str("component"),
    node: str("node"),
    state: str("state"),
    message: str("message"),
    severity: str("severity"),
  };
}

/**
 * Cluster events and anomalies: the newest `kept` in a capped Redis list
 * (so they survive a restart) mirrored in memory (so listing costs no
 * Redis round trip), and each job's newest anomalies in a list of its own.
 * Writes are queued and go out with the next flush.
 */
export class EventLog {
  /** Oldest first; trimmed to `kept` when it grows to twice that. */
  private ring: StoredEvent[] = [];
  private readonly byJob = new Map<string, StoredEvent[]>();
  private queue: string[] = [];
  private jobQueue = new Map<string, string[]>();

  constructor(private readonly options: EventLogOptions) {}

  async load(redis: Redis, jobIds: string[]): Promise<void> {
    const raw = await redis.lrange(this.options.keys.events, -this.options.kept, -1);
    const stored = raw.map(parseEvent).filter((e): e is StoredEvent => e !== null);
    this.ring = [...stored, ...this.ring].slice(-this.options.kept);
    const ids = jobIds.slice(-this.options.jobsInMemory);
    if (ids.length === 0) return;
    const pipe = redis.pipeline();
    for (const id of ids) pipe.lrange(this.options.keys.jobAnomalies(id), -this.options.keptPerJob, -1);
    const results = (await pipe.exec()) ?? [];
    ids.forEach((id, i) => {
      const list = results[i]?.[1];
      if (!Array.isArray(list) || list.length === 0) return;
      const events = list.map((r) => parseEvent(String(r))).filter((e): e is StoredEvent => e !== null);
      if (events.length > 0) this.byJob.set(id, events);
    });
  }

  /** Records an event; anomalies of a job (by id) are also kept with the job. */
  record(event: StoredEvent, jobId = ""): void {
    this.ring.push(event);
    if (this.ring.length >= 2 * this.options.kept) this.ring = this.ring.slice(-this.options.kept);
    const encoded = JSON.stringify(event);
    this.queue.push(encoded);
    if (this.queue.length > this.options.kept) this.queue = this.queue.slice(-this.options.kept);
    if (event.kind !== "anomaly" || !jobId) return;
    const list = this.byJob.get(jobId) ?? [];
    list.push(event);
    if (list.length > this.options.keptPerJob) list.splice(0, list.length - this.options.keptPerJob);
    // Re-inserted so the map's order is least recently touched first.
    this.byJob.delete(jobId);
    this.byJob.set(jobId, list);
    if (this.byJob.size > this.options.jobsInMemory) {
      const oldest = this.byJob.keys().next().value;
      if (oldest !== undefined) this.byJob.delete(oldest);
    }
    const queued = this.jobQueue.get(jobId) ?? [];
    queued.push(encoded);
    if (queued.length > this.options.keptPerJob) queued.splice(0, queued.length - this.options.keptPerJob);
    this.jobQueue.set(jobId, queued);
  }

  get pendingCount(): number {
    return this.queue.length;
  }

  get hasJobWrites(): boolean {
    return this.jobQueue.size > 0;
  }

  /** Queues the unwritten events: one RPUSH and one LTRIM for the log, and per job with anomalies one more of each and a PEXPIRE. */
  writeTo(pipe: ChainableCommander): void {
    if (this.queue.length > 0) {
      pipe.rpush(this.options.keys.events, ...this.queue);
      pipe.ltrim(this.options.keys.events, -this.options.kept, -1);
      this.queue = [];
    }
    for (const [jobId, encoded] of this.jobQueue) {
      const key = this.options.keys.jobAnomalies(jobId);
      pipe.rpush(key, ...encoded);
      pipe.ltrim(key, -this.options.keptPerJob, -1);
      pipe.pexpire(key, this.options.jobAnomaliesTtlMs);
    }
    this.jobQueue = new Map();
  }

  /** The newest `limit` events that pass the filter, oldest first. */
  list(filter: EventFilter): StoredEvent[] {
    const out: StoredEvent[] = [];
    const start = Math.max(0, this.ring.length - this.options.kept);
    for (let i = this.ring.length - 1; i >= start && out.length < filter.limit; i--) {
      const e = this.ring[i];
      if (!e) continue;
      if (filter.job && e.job !== filter.job) continue;
      if (filter.node && e.node !== filter.node) continue;
      if (filter.anomaliesOnly && e.kind !== "anomaly") continue;
      out.push(e);
    }
    return out.reverse();
  }

  jobAnomalies(jobId: string): StoredEvent[] {
    return this.byJob.get(jobId) ?? [];
  }
}
