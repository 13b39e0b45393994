import type { EventEmitter } from "node:events";
import type { Logger } from "@maro/proto";
import type { Redis } from "ioredis";
import type { ClusterEventRecord } from "../cluster/controller.js";
import { MaroError } from "../errors.js";
import { clusterKeys } from "../state/keys.js";
import type { JobRecord, NodeRecord } from "../state/records.js";
import type { HistoryPoint } from "./buckets.js";
import { type EventFilter, EventLog } from "./event-log.js";
import { NodeHistory } from "./history.js";
import { RateLimiter } from "./rate-limit.js";
import type { AnomalyIn, ComponentUsageRecord, NodeUsageRecord, SampleIn, StoredEvent } from "./types.js";
import { UsageTable } from "./usage-table.js";
import { anomalyProblem, LIMITS, sampleProblem } from "./validate.js";

/** What telemetry needs of the cluster: its public queries and its event emitter. */
export interface TelemetryCluster {
  readonly events: EventEmitter;
  listJobs(): JobRecord[];
  listNodes(): NodeRecord[];
  findContainer(name: string): { job: JobRecord; nodeId: string; componentId: string } | undefined;
}

export interface TelemetryOptions {
  /** A connection of its own: large pipelines must not hold up state commits. */
  redis: Redis;
  cluster: string;
  controller: TelemetryCluster;
  log: Logger;
  now?: () => number;
  /** History resolution and length: 10 s × 360 = one hour. */
  bucketMs?: number;
  historyPoints?: number;
  /** How often queued history points and events go to Redis. */
  flushIntervalMs?: number;
  eventsKept?: number;
  anomaliesPerJob?: number;
  /** Anomalies a node may report: `anomalyBurst` at once, then `anomaliesPerSecond`. */
  anomaliesPerSecond?: number;
  anomalyBurst?: number;
}

const DEFAULT_EVENTS_LIMIT = 200;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Samples, anomalies and heartbeats from agents, and the controller's
 * events: the latest usage in memory, a bounded history and event log in
 * Redis, written in one pipeline per flush.
 */
export class Telemetry {
  readonly usage = new UsageTable();
  private readonly history: NodeHistory;
  private readonly events: EventLog;
  private readonly anomalyLimit: RateLimiter;
  private readonly now: () => number;
  private readonly redis: Redis;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly onEvent = (e: ClusterEventRecord | StoredEvent) => {
    // Anomalies are recorded where they are accepted; this sees them again as they go to watchers.
    if (e.kind === "anomaly") return;
    this.events.record({ ...e, message: e.message.slice(0, LIMITS.messageChars), severity: "" });
  };
  /** Counts of dropped messages by node, logged once per flush. */
  private readonly dropped = new Map<string, { count: number; last: string }>();

  constructor(private readonly options: TelemetryOptions) {
    const keys = clusterKeys(options.cluster);
    this.redis = options.redis;
    this.now = options.now ?? Date.now;
    this.history = new NodeHistory({
      keys,
      bucketMs: options.bucketMs ?? 10_000,
      points: options.historyPoints ?? 360,
      maxPending: 200_000,
    });
    this.events = new EventLog({
      keys,
      kept: options.eventsKept ?? 10_000,
      keptPerJob: options.anomaliesPerJob ?? 50,
      jobsInMemory: 20_000,
      jobAnomaliesTtlMs: 30 * DAY_MS,
    });
    this.anomalyLimit = new RateLimiter(options.anomaliesPerSecond ?? 5, options.anomalyBurst ?? 20);
  }

  /** Loads the stored events, listens to the controller and starts flushing. */
  async start(): Promise<void> {
    // Listening first: what happens while the log loads is kept after what was stored.
    this.options.controller.events.on("event", this.onEvent);
    await this.events.load(
      this.redis,
      this.options.controller.listJobs().map((j) => j.id),
    );
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Stops listening and writes what is queued. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.options.controller.events.off("event", this.onEvent);
    await this.flush(true);
  }

  // ---- from agents -------------------------------------------------------

  /** A sample from `node`'s own connection. Returns the problem when it was dropped. */
  sample(node: string, sample: SampleIn): string | null {
    const problem = sampleProblem(sample);
    if (problem) return this.drop(node, `sample ${problem}`);
    if (!this.usage.apply(node, sample))
      return this.drop(node, `sample: more than ${LIMITS.componentsPerNode} components on the node`);
    const usage = this.usage.nodeUsage(node);
    if (sample.node && usage) this.history.add(node, usage, this.now());
    return null;
  }

  /** Answers a heartbeat: records the node's clock skew and returns the pong. */
  heartbeat(node: string, agentTimeMs: number): { agentTimeMs: number; masterTimeMs: number } {
    const now = this.now();
    const valid = Number.isSafeInteger(agentTimeMs) && agentTimeMs > 0;
    if (valid) this.usage.setClockSkew(node, agentTimeMs - now);
    return { agentTimeMs: valid ? agentTimeMs : 0, masterTimeMs: now };
  }

  /**
   * An anomaly from `node`'s own connection. Its node is the connection's,
   * whatever it says; a container, job or component it names must be on
   * that node. Returns the problem when it was dropped.
   */
  anomaly(node: string, a: AnomalyIn): string | null {
    const problem = anomalyProblem(a);
    if (problem) return this.drop(node, `anomaly ${problem}`);
    const owner = this.owner(node, a);
    if (typeof owner === "string") return this.drop(node, `anomaly ${owner}`);
    if (!this.anomalyLimit.take(node, this.now())) return this.drop(node, "anomaly: too many anomalies; rate limited");
    const event: StoredEvent = {
      timeMs: this.now(),
      kind: "anomaly",
      job: owner.job?.name ?? "",
      component: owner.component,
      node,
      state: a.kind,
      message: a.message,
      severity: a.severity,
    };
    this.events.record(event, owner.job?.id ?? "");
    this.options.controller.events.emit("event", event);
    return null;
  }

  /** The job and component an anomaly is about, checked against the cluster's records; or the problem. */
  private owner(node: string, a: AnomalyIn): { job: JobRecord | null; component: string } | string {
    if (!a.containerName && !a.jobId) {
      if (a.componentId) return "componentId: given without a container or job";
      return { job: null, component: "" };
    }
    if (a.containerName) {
      const found = this.options.controller.findContainer(a.containerName);
      if (
        found &&
        found.nodeId === node &&
        (!a.jobId || found.job.id === a.jobId) &&
        (!a.componentId || found.componentId === a.componentId)
      )
        return { job: found.job, component: found.componentId };
      return `containerName: "${a.containerName}" is not a container of node ${node} (or does not match jobId/componentId)`;
    }
    for (const job of this.options.controller.listJobs()) {
      if (a.jobId && job.id !== a.jobId) continue;
      for (const c of job.components) {
        if (c.nodeId !== node) continue;
        if (a.containerName && c.containerName !== a.containerName) continue;
        if (a.componentId && c.id !== a.componentId) continue;
        return { job, component: c.id };
      }
    }
    if (a.containerName)
      return `containerName: "${a.containerName}" is not a container of node ${node} (or does not match jobId/componentId)`;
    return `jobId: job "${a.jobId}" has no component${a.componentId ? ` "${a.componentId}"` : ""} on node ${node}`;
  }

  private drop(node: string, problem: string): string {
    const d = this.dropped.get(node) ?? { count: 0, last: "" };
    d.count++;
    d.last = problem;
    this.dropped.set(node, d);
    return problem;
  }

  // ---- queries -----------------------------------------------------------

  listEvents(req: { job: string; node: string; limit: number; anomaliesOnly: boolean }): StoredEvent[] {
    const kept = this.options.eventsKept ?? 10_000;
    if (!Number.isInteger(req.limit) || req.limit < 0 || req.limit > kept)
      throw new MaroError("INVALID_ARGUMENT", `limit: ${req.limit} is not 0 (for ${DEFAULT_EVENTS_LIMIT}) to ${kept}`);
    const filter: EventFilter = {
      job: req.job,
      node: req.node,
      anomaliesOnly: req.anomaliesOnly,
      limit: req.limit || DEFAULT_EVENTS_LIMIT,
    };
    return this.events.list(filter);
  }

  /** The node's history; NODE_NOT_FOUND for a node the cluster does not know. */
  async nodeMetrics(name: string, sinceMs: number): Promise<HistoryPoint[]> {
    if (!name) throw new MaroError("INVALID_ARGUMENT", "name: required; see `maro grass node list`");
    if (!Number.isSafeInteger(sinceMs) || sinceMs < 0)
      throw new MaroError("INVALID_ARGUMENT", `since_ms: ${sinceMs} is not a time in ms (0 for the whole hour)`);
    if (!this.options.controller.listNodes().some((n) => n.name === name))
      throw new MaroError("NODE_NOT_FOUND", `node "${name.slice(0, 80)}" not found; see \`maro grass node list\``);
    return this.history.read(this.redis, name, sinceMs, this.now());
  }

  jobAnomalies(jobId: string): StoredEvent[] {
    return this.events.jobAnomalies(jobId);
  }

  nodeUsage(node: string): NodeUsageRecord | null {
    return this.usage.nodeUsage(node);
  }

  clockSkewMs(node: string): number {
    return this.usage.clockSkewMs(node);
  }

  componentUsage(node: string, containerName: string): ComponentUsageRecord | null {
    return this.usage.componentUsage(node, containerName);
  }

  // ---- writes ------------------------------------------------------------

  /**
   * Closes finished buckets and writes every queued point and event in one
   * pipeline. Flushes never overlap; `final` also writes the open buckets.
   */
  flush(final = false): Promise<void> {
    if (this.flushing) return final ? this.flushing.then(() => this.flush(true)) : this.flushing;
    const run = async () => {
      this.logDrops();
      this.history.closeDue(final ? Number.MAX_SAFE_INTEGER : this.now());
      if (this.history.pendingCount === 0 && this.events.pendingCount === 0 && !this.events.hasJobWrites) return;
      const pipe = this.redis.pipeline();
      const written = this.history.writeTo(pipe);
      this.events.writeTo(pipe);
      try {
        const results = (await pipe.exec()) ?? [];
        const failed = results.find(([err]) => err);
        if (failed?.[0]) this.options.log.warn("telemetry write failed", { error: String(failed[0]) });
      } catch (err) {
        this.options.log.warn("telemetry write failed", { error: String(err) });
      } finally {
        written();
      }
    };
    this.flushing = run().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private logDrops(): void {
    for (const [node, d] of this.dropped)
      this.options.log.warn("agent messages dropped", { node, count: d.count, last: d.last });
    this.dropped.clear();
  }
}
