import type { ChainableCommander, Redis } from "ioredis";
import type { Keys } from "../state/keys.js";
import { Bucket, bucketStart, decodePoint, encodePoint, type HistoryPoint } from "./buckets.js";
import type { NodeUsageRecord } from "./types.js";

/**
 * Appends points to many nodes' lists in one command: KEYS are the lists,
 * ARGV[1] the length to keep, ARGV[2] the expiry in ms, ARGV[2 + i] the points
 * for KEYS[i] joined by newlines (JSON points hold none).
 */
const APPEND_SCRIPT = `
local keep = tonumber(ARGV[1])
local ttl = ARGV[2]
for i, key in ipairs(KEYS) do
  for point in string.gmatch(ARGV[2 + i], "[^\\n]+") do
    redis.call("RPUSH", key, point)
  end
  redis.call("LTRIM", key, -keep, -1)
  redis.call("PEXPIRE", key, ttl)
end
return #KEYS
`;

/** Nodes per script call: each call holds Redis for about as long as 3 × this many list operations. */
const NODES_PER_CALL = 500;

export interface HistoryOptions {
  keys: Keys;
  /** Bucket width (10 s). */
  bucketMs: number;
  /** Points kept per node (360: one hour of 10 s buckets). */
  points: number;
  /** Closed points waiting for a flush, at most; the oldest go first when Redis is away this long. */
  maxPending: number;
}

/**
 * Nodes' resource history. Samples fold into the current bucket in memory; a
 * closed bucket becomes one point, written with the next flush (one pipeline
 * for every node). Each node's list is trimmed to `points` on every write
 * and expires when its node stops reporting.
 *
 * Buckets are keyed by the master's clock when the sample arrives, not the
 * sample's own time: agents' clocks can be skewed (or lie), and a forged
 * time must not place points outside the hour or out of order.
 */
export class NodeHistory {
  private readonly open = new Map<string, Bucket>();
  private pending: { node: string; point: HistoryPoint }[] = [];
  /** Points handed to a pipeline that has not finished yet, still served to readers. */
  private inflight: { node: string; point: HistoryPoint }[] = [];

  constructor(private readonly options: HistoryOptions) {}

  add(node: string, usage: NodeUsageRecord, nowMs: number): void {
    const start = bucketStart(nowMs, this.options.bucketMs);
    let bucket = this.open.get(node);
    if (bucket && bucket.startMs !== start) {
      this.close(node, bucket);
      bucket = undefined;
    }
    if (!bucket) {
      bucket = new Bucket(start);
      this.open.set(node, bucket);
    }
    bucket.add(usage);
  }

  /** Closes every bucket whose time is over, so silent nodes' last points are written too. */
  closeDue(nowMs: number): void {
    const current = bucketStart(nowMs, this.options.bucketMs);
    for (const [node, bucket] of this.open) if (bucket.startMs < current) this.close(node, bucket);
  }

  private close(node: string, bucket: Bucket): void {
    this.open.delete(node);
    const point = bucket.point();
    if (!point) return;
    this.pending.push({ node, point });
    if (this.pending.length > this.options.maxPending)
      this.pending.splice(0, this.pending.length - this.options.maxPending);
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /**
   * Queues the pending points on `pipe`: one script call per 500 nodes, which
   * per node pushes its points, trims the list to the newest `points` and
   * sets it to expire after twice the window. (As separate commands that
   * was three per node: at 10,000 nodes the client spent most of a second
   * encoding and decoding them.) Returns a function to call once the
   * pipeline has run.
   */
  writeTo(pipe: ChainableCommander): () => void {
    const batch = this.pending;
    this.pending = [];
    const byNode = new Map<string, string[]>();
    for (const { node, point } of batch) {
      const list = byNode.get(node);
      if (list) list.push(encodePoint(point));
      else byNode.set(node, [encodePoint(point)]);
    }
    const ttlMs = String(2 * this.options.bucketMs * this.options.points);
    const entries = [...byNode];
    for (let i = 0; i < entries.length; i += NODES_PER_CALL) {
      const chunk = entries.slice(i, i + NODES_PER_CALL);
      const keys = chunk.map(([node]) => this.options.keys.nodeMetrics(node));
      const points = chunk.map(([, encoded]) => encoded.join("\n"));
      pipe.eval(APPEND_SCRIPT, keys.length, ...keys, String(this.options.points), ttlMs, ...points);
    }
    this.inflight.push(...batch);
    return () => {
      const done = new Set(batch);
      this.inflight = this.inflight.filter((p) => !done.has(p));
    };
  }

  /** The node's points at or after sinceMs within the last window, oldest first, including unwritten ones. */
  async read(redis: Redis, node: string, sinceMs: number, nowMs: number): Promise<HistoryPoint[]> {
    const windowStart = nowMs - this.options.bucketMs * this.options.points;
    const from = Math.max(sinceMs, windowStart);
    const byTime = new Map<number, HistoryPoint>();
    for (const raw of await redis.lrange(this.options.keys.nodeMetrics(node), 0, -1)) {
      const p = decodePoint(raw);
      if (p) byTime.set(p.timeMs, p);
    }
    for (const e of [...this.inflight, ...this.pending]) if (e.node === node) byTime.set(e.point.timeMs, e.point);
    const current = this.open.get(node)?.point();
    if (current) byTime.set(current.timeMs, current);
    return [...byTime.values()].filter((p) => p.timeMs >= from).sort((a, b) => a.timeMs - b.timeMs);
  }
}
