// The indexed selection (Ledger.select over FreeIndex) must pick exactly the
// node the scan-based scheduler picked: whole plans are compared with the
// baseline kept in bench/lib/scheduler-baseline.ts, and single selections with
// a scan over the ledger's own fits/free, through takes and rollbacks.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { baselineSchedule } from "../../../bench/lib/scheduler-baseline.js";
import { Ledger, schedule } from "../src/index.js";
import { compareNodes, metricOf } from "../src/order.js";
import { freeScore } from "../src/score.js";
import type { AllocationMode, Metric, NodeState, QueuedJob, Resources, Snapshot } from "../src/types.js";
import { arbSnapshot, PARAMS, SEED } from "./arbitraries.js";
import { Gi, Mi } from "./helpers.js";

const MODES: readonly AllocationMode[] = ["single-metric-balanced", "single-metric-compacted", "binpack", "spread"];
const METRICS: readonly Metric[] = ["cpu", "memory", "gpu"];

/** The old selection: every ready node that fits, best by mode, ties by name then id. */
function scan(ledger: Ledger, mode: AllocationMode, metric: Metric, request: Resources): NodeState | undefined {
  let best: { node: NodeState; free: number } | undefined;
  for (const node of ledger.nodes) {
    if (!node.ready || !ledger.fits(node.id, request)) continue;
    const f = ledger.free(node.id);
    const c = ledger.capacity(node.id);
    const byScore = mode === "binpack" || mode === "spread";
    const free = byScore
      ? freeScore(c.cpuMillis, c.memoryBytes, c.gpu, f.cpuMillis, f.memoryBytes, f.gpu)
      : metricOf(f, metric);
    if (best === undefined) {
      best = { node, free };
      continue;
    }
    const most = mode === "single-metric-balanced" || mode === "spread";
    const byFree = most ? best.free - free : free - best.free;
    if (byFree < 0 || (byFree === 0 && compareNodes(node, best.node) < 0)) best = { node, free };
  }
  return best?.node;
}

// Larger clusters than arbSnapshot's: up to 40 nodes with few distinct names and
// sizes (many ties), some down, GPUs on some, and longer queues that fill them.
const resources = fc.record({
  cpuMillis: fc.constantFrom(0, 100, 250, 500, 1000, 2000, 4000),
  memoryBytes: fc.constantFrom(0, 128 * Mi, 512 * Mi, Gi, 4 * Gi),
  gpu: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
});

const arbCluster: fc.Arbitrary<Snapshot> = fc
  .record({
    nodes: fc.array(
      fc.record({
        name: fc.constantFrom("a", "b", "c", "d", "e", "f"),
        ready: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
        cpuMillis: fc.constantFrom(1000, 2000, 4000, 8000),
        memoryBytes: fc.constantFrom(2 * Gi, 4 * Gi, 8 * Gi),
        gpu: fc.constantFrom(0, 0, 0, 2, 4),
      }),
      { minLength: 1, maxLength: 40 },
    ),
    allocations: fc.array(fc.record({ node: fc.nat({ max: 45 }), resources }), { maxLength: 30 }),
    jobs: fc.array(
      fc.record({
        mode: fc.constantFrom(...MODES),
        metric: fc.constantFrom(...METRICS),
        components: fc.array(resources, { minLength: 1, maxLength: 6 }),
      }),
      { maxLength: 30 },
    ),
  })
  .map(({ nodes, allocations, jobs }): Snapshot => {
    const nodeStates: NodeState[] = nodes.map((n, i) => ({
      id: `n${i}`,
      name: n.name,
      ready: n.ready,
      allocatable: { cpuMillis: n.cpuMillis, memoryBytes: n.memoryBytes, gpu: n.gpu },
      gpuIndices: Array.from({ length: n.gpu }, (_, k) => k),
    }));
    const queue: QueuedJob[] = jobs.map((j, i) => ({
      id: `job-${i}`,
      name: `job-${i}`,
      mode: j.mode,
      metric: j.metric,
      submittedAt: i,
      components: j.components.map((r, k) => ({ id: `c-${k}`, type: "c", index: k, resources: r })),
    }));
    return {
      version: 1,
      nodes: nodeStates,
      allocations: allocations.map((a, i) => ({
        jobId: `running-${i}`,
        componentId: "c-0",
        nodeId: `n${a.node}`,
        resources: { ...a.resources, gpu: Math.min(a.resources.gpu, 1) },
        gpuIndices: a.resources.gpu > 0 ? [i % 4] : [],
      })),
      queue,
    };
  });

describe("indexed selection equals the scan it replaced", () => {
  it("gives the same plan as the scan-based baseline on generated snapshots", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        assert.deepEqual(schedule(snapshot, { now: 0 }), baselineSchedule(snapshot, { now: 0 }));
      }),
      PARAMS,
    );
  });

  it("gives the same plan as the baseline on larger, tie-heavy clusters with long queues", () => {
    fc.assert(
      fc.property(arbCluster, (snapshot) => {
        assert.deepEqual(schedule(snapshot, { now: 0 }), baselineSchedule(snapshot, { now: 0 }));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("selects the scan's node for every mode and metric through takes and rollbacks", () => {
    const step = fc.record({ request: resources, take: fc.boolean(), rollback: fc.integer({ min: 0, max: 9 }) });
    fc.assert(
      fc.property(arbCluster, fc.array(step, { maxLength: 40 }), (snapshot, steps) => {
        const ledger = new Ledger(snapshot.nodes, snapshot.allocations);
        const marks: number[] = [];
        for (const s of steps) {
          for (const mode of MODES) {
            for (const metric of METRICS) {
              assert.equal(ledger.select(mode, metric, s.request)?.id, scan(ledger, mode, metric, s.request)?.id);
            }
          }
          const chosen = ledger.select(MODES[s.rollback % 4] as AllocationMode, "cpu", s.request);
          if (s.take && chosen !== undefined) {
            marks.push(ledger.mark());
            ledger.take(chosen.id, s.request);
          }
          if (s.rollback === 0 && marks.length > 0) ledger.rollback(marks.splice(marks.length / 2)[0] ?? 0);
        }
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
