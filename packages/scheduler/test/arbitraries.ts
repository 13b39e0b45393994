// fast-check generators for scheduler inputs: small clusters, some nodes down
// or cordoned, labelled nodes, existing allocations (sometimes over-committing,
// sometimes on unknown nodes), and queues of multi-component jobs with
// priorities, all four modes, constraints and spread, that sometimes cannot fit.

import fc from "fast-check";
import type { Allocation, ComponentRequest, NodeState, QueuedJob, Snapshot } from "../src/types.js";
import { Gi, Mi } from "./helpers.js";

/** Fixed seed so failures reproduce; change it to explore. */
export const SEED = 0x6d61726f;
export const RUNS = 300;
export const PARAMS = { seed: SEED, numRuns: RUNS } as const;

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

const weightedBool = (trueWeight: number) => fc.integer({ min: 0, max: trueWeight }).map((n) => n > 0);

/** `usual` nine times in ten, else `rare` (edge cases: empty, zero-sized, too big). */
const often = <T>(usual: fc.Arbitrary<T>, rare: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 9, arbitrary: usual }, { weight: 1, arbitrary: rare });

const nodeSpec = fc.record({
  name: fc.constantFrom("node-a", "node-b", "node-c", "node-d"),
  ready: weightedBool(4),
  cpuMillis: often(fc.constantFrom(2000, 4000, 8000, 16000), fc.constantFrom(0, 1000)),
  memoryBytes: often(fc.constantFrom(4 * Gi, 16 * Gi, 64 * Gi), fc.constantFrom(0, Gi)),
  gpuIndices: fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 4 }),
  cordoned: fc.integer({ min: 0, max: 7 }).map((n) => n === 0),
  zone: fc.constantFrom(undefined, "a", "a", "b"),
});

const allocationSpec = fc.record({
  /** Index into the nodes; past the end means an unknown node. */
  node: fc.nat({ max: 7 }),
  cpuMillis: fc.constantFrom(0, 250, 500, 1000, 2000),
  memoryBytes: fc.constantFrom(0, 256 * Mi, Gi, 2 * Gi),
  gpu: fc.integer({ min: 0, max: 2 }),
  offset: fc.nat({ max: 3 }),
});

const componentSpec = fc.record({
  type: fc.constantFrom("learner", "actor"),
  cpuMillis: often(fc.constantFrom(0, 250, 500, 1000, 2000), fc.constantFrom(4000, 8000, 32000)),
  memoryBytes: often(fc.constantFrom(0, 256 * Mi, Gi, 2 * Gi), fc.constantFrom(8 * Gi, 16 * Gi, 128 * Gi)),
  gpu: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
  zone: fc.oneof(
    { weight: 12, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constant("a") },
    { weight: 2, arbitrary: fc.constant("b") },
    { weight: 1, arbitrary: fc.constant("c") },
  ),
  spread: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
});

export const ALL_MODES = ["single-metric-balanced", "single-metric-compacted", "binpack", "spread"] as const;

const jobSpec = fc.record({
  id: fc.integer({ min: 0, max: 99 }).map((n) => `job-${n}`),
  mode: fc.constantFrom(...ALL_MODES),
  priority: fc.constantFrom(undefined, undefined, 0, 1, 2),
  metric: fc.constantFrom("cpu" as const, "memory" as const, "gpu" as const),
  submittedAt: fc.integer({ min: 0, max: 3 }),
  components: often(fc.array(componentSpec, { minLength: 1, maxLength: 4 }), fc.array(componentSpec, { maxLength: 0 })),
});

function toNodes(specs: ValueOf<typeof nodeSpec>[]): NodeState[] {
  return specs.map((s, i) => ({
    id: `n${i}`,
    name: s.name,
    ready: s.ready,
    allocatable: { cpuMillis: s.cpuMillis, memoryBytes: s.memoryBytes, gpu: s.gpuIndices.length },
    gpuIndices: s.gpuIndices,
    ...(s.cordoned ? { cordoned: true } : {}),
    ...(s.zone === undefined ? {} : { labels: { zone: s.zone } }),
  }));
}

/** With `withinCapacity`, drops allocations that would over-commit a node or reuse a device. */
function toAllocations(
  specs: ValueOf<typeof allocationSpec>[],
  nodes: NodeState[],
  withinCapacity: boolean,
): Allocation[] {
  const used = new Map<string, { cpu: number; mem: number; gpu: number; idx: Set<number> }>();
  const out: Allocation[] = [];
  specs.forEach((s, i) => {
    const target = nodes[s.node];
    const nodeId = target?.id ?? `ghost-${s.node}`;
    const pool = target?.gpuIndices ?? [0, 1, 2, 3];
    const gpuIndices = Array.from(
      { length: Math.min(s.gpu, pool.length) },
      (_, k) => pool[(s.offset + k) % pool.length],
    )
      .filter((x): x is number => x !== undefined)
      .filter((x, k, all) => all.indexOf(x) === k);
    const resources = { cpuMillis: s.cpuMillis, memoryBytes: s.memoryBytes, gpu: gpuIndices.length };
    if (withinCapacity && target !== undefined) {
      const u = used.get(nodeId) ?? { cpu: 0, mem: 0, gpu: 0, idx: new Set<number>() };
      const fits =
        u.cpu + resources.cpuMillis <= target.allocatable.cpuMillis &&
        u.mem + resources.memoryBytes <= target.allocatable.memoryBytes &&
        u.gpu + resources.gpu <= target.allocatable.gpu &&
        gpuIndices.every((x) => !u.idx.has(x));
      if (!fits) return;
      used.set(nodeId, {
        cpu: u.cpu + resources.cpuMillis,
        mem: u.mem + resources.memoryBytes,
        gpu: u.gpu + resources.gpu,
        idx: new Set([...u.idx, ...gpuIndices]),
      });
    }
    out.push({ jobId: `running-${i}`, componentId: `c-${i}`, nodeId, resources, gpuIndices });
  });
  return out;
}

function toJob(s: ValueOf<typeof jobSpec>): QueuedJob {
  const components: ComponentRequest[] = s.components.map((c, index) => ({
    id: `${c.type}-${index}`,
    type: c.type,
    index,
    resources: { cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes, gpu: c.gpu },
    ...(c.zone === undefined ? {} : { constraints: { zone: c.zone } }),
    ...(c.spread ? { spreadAcross: "node" as const } : {}),
  }));
  const job: QueuedJob = {
    id: s.id,
    name: s.id,
    mode: s.mode,
    metric: s.metric,
    submittedAt: s.submittedAt,
    components,
  };
  if (s.priority !== undefined) job.priority = s.priority;
  return job;
}

export const arbSnapshot: fc.Arbitrary<Snapshot> = fc
  .record({
    version: fc.nat(),
    nodes: often(fc.array(nodeSpec, { minLength: 1, maxLength: 6, size: "max" }), fc.array(nodeSpec, { maxLength: 0 })),
    allocations: fc.array(allocationSpec, { maxLength: 10 }),
    withinCapacity: weightedBool(3),
    queue: fc.uniqueArray(jobSpec, { selector: (j) => j.id, maxLength: 8 }),
  })
  .map(({ version, nodes: nodeSpecs, allocations, withinCapacity, queue }) => {
    const nodes = toNodes(nodeSpecs);
    return { version, nodes, allocations: toAllocations(allocations, nodes, withinCapacity), queue: queue.map(toJob) };
  });

/** A deterministic shuffle for permutation tests (test-side only). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
