import type { NodeUsageRecord } from "./types.js";

// Downsampling: the 1 s samples of a node fold into one point per bucket
// (10 s by default). Pure; the caller says what time it is.

/** One stored point: a bucket's averages (rates, usage) and latest capacities. */
export interface HistoryPoint {
  /** Start of the bucket, master clock. */
  timeMs: number;
  /** Samples folded into it. */
  samples: number;
  usage: NodeUsageRecord;
}

interface GpuSums {
  index: number;
  memoryUsed: number;
  memoryTotal: number;
  utilization: number;
  samples: number;
}

/** Sums of one node's samples in one bucket. */
export class Bucket {
  private n = 0;
  private cpu = 0;
  private mem = 0;
  private disk = 0;
  private rx = 0;
  private tx = 0;
  private last: NodeUsageRecord | null = null;
  private readonly gpus = new Map<number, GpuSums>();

  constructor(readonly startMs: number) {}

  add(u: NodeUsageRecord): void {
    this.n++;
    this.cpu += u.cpuMillis;
    this.mem += u.memoryUsedBytes;
    this.disk += u.diskUsedBytes;
    this.rx += u.netRxBytesPerS;
    this.tx += u.netTxBytesPerS;
    this.last = u;
    for (const g of u.gpus) {
      const s = this.gpus.get(g.index) ?? { index: g.index, memoryUsed: 0, memoryTotal: 0, utilization: 0, samples: 0 };
      s.memoryUsed += g.memoryUsedBytes;
      s.memoryTotal = g.memoryTotalBytes;
      s.utilization += g.utilizationPercent;
      s.samples++;
      this.gpus.set(g.index, s);
    }
  }

  get samples(): number {
    return this.n;
  }

  point(): HistoryPoint | null {
    const last = this.last;
    if (!last || this.n === 0) return null;
    const avg = (sum: number, n = this.n) => Math.round(sum / n);
    return {
      timeMs: this.startMs,
      samples: this.n,
      usage: {
        cpuMillis: avg(this.cpu),
        cpuCapacityMillis: last.cpuCapacityMillis,
        memoryUsedBytes: avg(this.mem),
        memoryTotalBytes: last.memoryTotalBytes,
        diskUsedBytes: avg(this.disk),
        diskTotalBytes: last.diskTotalBytes,
        netRxBytesPerS: avg(this.rx),
        netTxBytesPerS: avg(this.tx),
        gpus: [...this.gpus.values()]
          .sort((a, b) => a.index - b.index)
          .map((g) => ({
            index: g.index,
            memoryUsedBytes: avg(g.memoryUsed, g.samples),
            memoryTotalBytes: g.memoryTotal,
            utilizationPercent: avg(g.utilization, g.samples),
          })),
      },
    };
  }
}

export function bucketStart(timeMs: number, bucketMs: number): number {
  return Math.floor(timeMs / bucketMs) * bucketMs;
}

// Stored as a compact JSON array; a node's hour is 360 of these.
type Encoded = [number, number, number, number, number, number, number, number, number, number, number[][]?];

export function encodePoint(p: HistoryPoint): string {
  const u = p.usage;
  const row: Encoded = [
    p.timeMs,
    p.samples,
    u.cpuMillis,
    u.cpuCapacityMillis,
    u.memoryUsedBytes,
    u.memoryTotalBytes,
    u.diskUsedBytes,
    u.diskTotalBytes,
    u.netRxBytesPerS,
    u.netTxBytesPerS,
  ];
  if (u.gpus.length > 0)
    row.push(u.gpus.map((g) => [g.index, g.memoryUsedBytes, g.memoryTotalBytes, g.utilizationPercent]));
  return JSON.stringify(row);
}

/** The point, or null for anything that is not one (a damaged or foreign entry is skipped, not fatal). */
export function decodePoint(raw: string): HistoryPoint | null {
  let row: unknown;
  try {
    row = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!Array.isArray(row) || row.length < 10) return null;
  const nums = row.slice(0, 10);
  if (!nums.every((n) => typeof n === "number" && Number.isFinite(n))) return null;
  const [t, n, cpu, cpuCap, mem, memTotal, disk, diskTotal, rx, tx] = nums as number[];
  const gpuRows: unknown = row[10] ?? [];
  const gpus = Array.isArray(gpuRows)
    ? gpuRows
        .filter((g): g is number[] => Array.isArray(g) && g.length === 4 && g.every((x) => typeof x === "number"))
        .map(([index = 0, used = 0, total = 0, util = 0]) => ({
          index,
          memoryUsedBytes: used,
          memoryTotalBytes: total,
          utilizationPercent: util,
        }))
    : [];
  return {
    timeMs: t ?? 0,
    samples: n ?? 0,
    usage: {
      cpuMillis: cpu ?? 0,
      cpuCapacityMillis: cpuCap ?? 0,
      memoryUsedBytes: mem ?? 0,
      memoryTotalBytes: memTotal ?? 0,
      diskUsedBytes: disk ?? 0,
      diskTotalBytes: diskTotal ?? 0,
      netRxBytesPerS: rx ?? 0,
      netTxBytesPerS: tx ?? 0,
      gpus,
    },
  };
}
