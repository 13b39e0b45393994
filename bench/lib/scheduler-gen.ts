// Deterministic cluster and queue generators for bench/scheduler.ts. A seeded
// PRNG (mulberry32) makes every run place the same jobs on the same nodes.

import type {
  Allocation,
  ComponentRequest,
  Metric,
  NodeState,
  QueuedJob,
  Snapshot,
} from "../../packages/scheduler/src/types.js";

const Mi = 2 ** 20;
const Gi = 2 ** 30;

export type Rng = () => number;

/** mulberry32: a small, fast, seeded PRNG returning [0, 1). */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One of `values`, drawn with the matching `weights`. */
function pick<T>(r: Rng, values: readonly T[], weights: readonly number[]): T {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = r() * total;
  for (let i = 0; i < values.length; i++) {
    x -= weights[i] ?? 0;
    if (x < 0) return values[i] as T;
  }
  return values[values.length - 1] as T;
}

function int(r: Rng, min: number, max: number): number {
  return min + Math.floor(r() * (max - min + 1));
}

/**
 * `count` nodes of mixed sizes (8–64 cores, 2–8 GiB per core); 10% are GPU
 * nodes (32 or 64 cores, 4 or 8 GPUs); 1% are not ready.
 */
export function generateNodes(count: number, seed: number): NodeState[] {
  const r = rng(seed);
  const nodes: NodeState[] = [];
  for (let i = 0; i < count; i++) {
    const gpuNode = i % 10 === 3;
    const cores = gpuNode ? pick(r, [32, 64], [1, 1]) : pick(r, [8, 16, 32, 64], [3, 4, 2, 1]);
    const gpu = gpuNode ? pick(r, [4, 8], [1, 1]) : 0;
    const name = `node-${String(i).padStart(5, "0")}`;
    nodes.push({
      id: `id-${name}`,
      name,
      ready: r() >= 0.01,
      allocatable: { cpuMillis: cores * 1000, memoryBytes: cores * pick(r, [2, 4, 8], [1, 3, 1]) * Gi, gpu },
      gpuIndices: Array.from({ length: gpu }, (_, k) => k),
    });
  }
  return nodes;
}

/**
 * Jobs of 1–8 components totalling at least `components`, in queue order
 * (submittedAt = position). Mixed sizes (0.1–4 cores, 128Mi–4Gi), both
 * allocation modes, metric cpu or memory; 2% are GPU jobs of 1–4 components
 * with one GPU each (metric gpu or cpu).
 */
export function generateQueue(components: number, seed: number): QueuedJob[] {
  const r = rng(seed);
  const jobs: QueuedJob[] = [];
  let total = 0;
  while (total < components) {
    const gpuJob = r() < 0.02;
    const size = gpuJob ? int(r, 1, 4) : int(r, 1, 8);
    const metric: Metric = gpuJob
      ? pick(r, ["gpu", "cpu"] as const, [3, 1])
      : pick(r, ["cpu", "memory"] as const, [2, 1]);
    const mode = r() < 0.5 ? "single-metric-balanced" : "single-metric-compacted";
    const list: ComponentRequest[] = [];
    for (let k = 0; k < size; k++) {
      const type = k === 0 ? "learner" : "actor";
      const cpuMillis = gpuJob
        ? pick(r, [1000, 2000, 4000], [2, 2, 1])
        : pick(r, [100, 250, 500, 1000, 2000, 4000], [40, 30, 20, 8, 1.5, 0.5]);
      const memoryBytes = pick(r, [128 * Mi, 256 * Mi, 512 * Mi, Gi, 2 * Gi, 4 * Gi], [2, 3, 3, 1, 0.7, 0.3]);
      list.push({ id: `${type}-${k}`, type, index: k, resources: { cpuMillis, memoryBytes, gpu: gpuJob ? 1 : 0 } });
    }
    const id = `job-${String(jobs.length).padStart(6, "0")}`;
    jobs.push({ id, name: id, mode, metric, submittedAt: jobs.length, components: list });
    total += size;
  }
  return jobs;
}

/**
 * About `count` small running allocations (0.1–0.5 cores, 128–512Mi, no GPU)
 * spread at random over the ready nodes, never over-committing one.
 */
export function generateAllocations(nodes: readonly NodeState[], count: number, seed: number): Allocation[] {
  const r = rng(seed);
  const ready = nodes.filter((n) => n.ready);
  const used = new Map<string, { cpu: number; mem: number }>();
  const out: Allocation[] = [];
  for (let attempt = 0; out.length < count && attempt < count * 4; attempt++) {
    const node = ready[Math.floor(r() * ready.length)];
    if (node === undefined) break;
    const cpuMillis = pick(r, [100, 250, 500], [2, 2, 1]);
    const memoryBytes = pick(r, [128 * Mi, 256 * Mi, 512 * Mi], [1, 2, 1]);
    const u = used.get(node.id) ?? { cpu: 0, mem: 0 };
    if (u.cpu + cpuMillis > node.allocatable.cpuMillis || u.mem + memoryBytes > node.allocatable.memoryBytes) continue;
    used.set(node.id, { cpu: u.cpu + cpuMillis, mem: u.mem + memoryBytes });
    out.push({
      jobId: `running-${out.length}`,
      componentId: "actor-0",
      nodeId: node.id,
      resources: { cpuMillis, memoryBytes, gpu: 0 },
      gpuIndices: [],
    });
  }
  return out;
}

export function generateSnapshot(nodes: number, components: number, allocations: number, seed: number): Snapshot {
  const nodeList = generateNodes(nodes, seed);
  return {
    version: seed,
    nodes: nodeList,
    allocations: generateAllocations(nodeList, allocations, seed + 1),
    queue: generateQueue(components, seed + 2),
  };
}

/** The first jobs of `queue` (in order) holding at least `components` components. */
export function queuePrefix(queue: readonly QueuedJob[], components: number): QueuedJob[] {
  const out: QueuedJob[] = [];
  let total = 0;
  for (const job of queue) {
    if (total >= components) break;
    out.push(job);
    total += job.components.length;
  }
  return out;
}
