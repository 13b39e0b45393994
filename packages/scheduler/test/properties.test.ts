// Properties of schedule() over generated clusters and queues. Every check
// here is computed independently from the plan and the snapshot (plain sums
// and sets), never with the scheduler's own ledger or ordering code.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { schedule } from "../src/index.js";
import type { ComponentRequest, NodeState, Plan, QueuedJob, Resources, Snapshot } from "../src/types.js";
import { arbSnapshot, PARAMS, RUNS, shuffled } from "./arbitraries.js";

const RESOURCES = ["cpuMillis", "memoryBytes", "gpu"] as const;

function requestOf(snapshot: Snapshot, jobId: string, componentId: string): ComponentRequest {
  const component = snapshot.queue.find((j) => j.id === jobId)?.components.find((c) => c.id === componentId);
  assert.ok(component, `placement for unknown component ${jobId}/${componentId}`);
  return component;
}

function nodeById(snapshot: Snapshot, nodeId: string): NodeState {
  const node = snapshot.nodes.find((n) => n.id === nodeId);
  assert.ok(node, `placement on unknown node ${nodeId}`);
  return node;
}

const run = (snapshot: Snapshot): Plan => schedule(snapshot, { now: 0 });

const seen = { placedJobs: 0, multiComponentPlaced: 0, unplacedJobs: 0, neverFits: 0, gpuPlacements: 0 };

describe("schedule properties", () => {
  it("(1) never over-commits a node in cpu, memory or gpu", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        const plan = run(snapshot);
        for (const node of snapshot.nodes) {
          const existing: Resources = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
          for (const a of snapshot.allocations.filter((x) => x.nodeId === node.id)) {
            for (const r of RESOURCES) existing[r] += a.resources[r];
          }
          const added: Resources = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
          for (const job of plan.placed) {
            for (const p of job.placements.filter((x) => x.nodeId === node.id)) {
              const request = requestOf(snapshot, job.jobId, p.componentId).resources;
              for (const r of RESOURCES) added[r] += request[r];
            }
          }
          for (const r of RESOURCES) {
            // Existing allocations may already over-commit a node (stale state); a plan must
            // then add nothing of that resource there. Otherwise the total must stay within.
            if (added[r] > 0) {
              assert.ok(existing[r] + added[r] <= node.allocatable[r], `${node.id} over-committed in ${r}`);
            }
          }
        }
      }),
      PARAMS,
    );
  });

  it("(2) places each job whole or reports it unplaced, never both, never partially", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        const plan = run(snapshot);
        const placedIds = plan.placed.map((p) => p.jobId);
        const unplacedIds = plan.unplaced.map((u) => u.jobId);
        assert.deepEqual(
          [...placedIds, ...unplacedIds].sort(),
          snapshot.queue.map((j) => j.id).sort(),
          "each queued job appears exactly once in placed or unplaced",
        );
        for (const placed of plan.placed) {
          const job = snapshot.queue.find((j) => j.id === placed.jobId) as QueuedJob;
          const expected = job.components.map((c) => c.id).sort();
          assert.ok(expected.length > 0, "a job with no components is never placed");
          assert.deepEqual(placed.placements.map((p) => p.componentId).sort(), expected);
          seen.placedJobs++;
          if (expected.length > 1) seen.multiComponentPlaced++;
        }
        seen.unplacedJobs += plan.unplaced.length;
      }),
      PARAMS,
    );
  });

  it("(3) never gives a gpu index on a node to two components", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        const plan = run(snapshot);
        const taken = new Map<string, Set<number>>();
        for (const a of snapshot.allocations) {
          const set = taken.get(a.nodeId) ?? new Set<number>();
          for (const index of a.gpuIndices) set.add(index);
          taken.set(a.nodeId, set);
        }
        for (const job of plan.placed) {
          for (const p of job.placements) {
            const node = nodeById(snapshot, p.nodeId);
            const request = requestOf(snapshot, job.jobId, p.componentId).resources;
            assert.equal(p.gpuIndices.length, request.gpu, "one index per requested gpu");
            const set = taken.get(p.nodeId) ?? new Set<number>();
            for (const index of p.gpuIndices) {
              assert.ok(node.gpuIndices.includes(index), `index ${index} is not a device of ${node.id}`);
              assert.ok(!set.has(index), `index ${index} on ${node.id} used twice`);
              set.add(index);
            }
            taken.set(p.nodeId, set);
            if (request.gpu > 0) seen.gpuPlacements++;
          }
        }
      }),
      PARAMS,
    );
  });

  it("(4) places nothing on a node that is not ready or is cordoned", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        for (const job of run(snapshot).placed) {
          for (const p of job.placements) {
            assert.equal(nodeById(snapshot, p.nodeId).ready, true);
            assert.notEqual(nodeById(snapshot, p.nodeId).cordoned, true);
          }
        }
      }),
      PARAMS,
    );
  });

  it("(5) is deterministic, leaves its input alone, and ignores input order", () => {
    fc.assert(
      fc.property(arbSnapshot, fc.nat(), (snapshot, seed) => {
        const before = structuredClone(snapshot);
        const plan = run(snapshot);
        assert.deepEqual(snapshot, before, "input not mutated");
        assert.deepEqual(schedule(structuredClone(snapshot), { now: 12345, seed: 99 }), plan);
        assert.equal(plan.snapshotVersion, snapshot.version);
        const reordered: Snapshot = {
          ...snapshot,
          nodes: shuffled(snapshot.nodes, seed),
          allocations: shuffled(snapshot.allocations, seed + 1),
          queue: shuffled(snapshot.queue, seed + 2),
        };
        assert.deepEqual(run(reordered), plan);
      }),
      PARAMS,
    );
  });

  it("explains every unplaced job consistently", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        for (const u of run(snapshot).unplaced) {
          const job = snapshot.queue.find((j) => j.id === u.jobId) as QueuedJob;
          if (job.components.length === 0) {
            assert.equal(u.reason, "job has no components");
            assert.equal(u.neverFits, true);
            continue;
          }
          const e = u.explanation;
          const component = job.components.find((c) => c.id === e.componentId);
          assert.ok(component, "the explanation names a component of the job");
          assert.deepEqual(e.needs, component.resources);
          assert.equal(e.nodesEvaluated, snapshot.nodes.length);
          const counted = Object.values(e.filtered).reduce((a, b) => a + b, 0);
          assert.equal(counted, e.nodesEvaluated, "every node is counted once");
          assert.ok(u.reason.startsWith(`${component.id} needs `), u.reason);
          // neverFits exactly when some component exceeds the total capacity of every node
          // carrying its labels, or a spread type has more replicas than such nodes able to hold one.
          const fitsEmpty = (c: ComponentRequest, n: NodeState) =>
            RESOURCES.every((r) => c.resources[r] <= n.allocatable[r]) &&
            Object.entries(c.constraints ?? {}).every(([k, v]) => n.labels?.[k] === v);
          const hopeless = job.components.filter((c) => !snapshot.nodes.some((n) => fitsEmpty(c, n)));
          const crowded = job.components.filter((c) => {
            const peers = job.components.filter((p) => p.spreadAcross === "node" && p.type === c.type);
            if (c.spreadAcross !== "node" || peers.length < 2) return false;
            if (peers.some((p) => JSON.stringify(p.constraints ?? {}) !== JSON.stringify(c.constraints ?? {})))
              return false;
            const least = { ...c, resources: { cpuMillis: 0, memoryBytes: 0, gpu: 0 } };
            for (const r of RESOURCES) least.resources[r] = Math.min(...peers.map((p) => p.resources[r]));
            return snapshot.nodes.filter((n) => fitsEmpty(least, n)).length < peers.length;
          });
          assert.equal(u.neverFits, hopeless.length > 0 || crowded.length > 0);
          if (u.neverFits) {
            assert.ok(
              hopeless.includes(component) || (hopeless.length === 0 && crowded.includes(component)),
              "neverFits names a component that can never fit",
            );
            seen.neverFits++;
          }
        }
      }),
      PARAMS,
    );
  });

  it("leaves a one-component job unplaced only when no ready node had room outside the reservation, and picks by mode", () => {
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        const plan = run(snapshot);
        // Replay the plan in queue order with plain sums.
        const used = new Map(
          snapshot.nodes.map((n) => [n.id, { cpuMillis: 0, memoryBytes: 0, gpu: 0, idx: new Set() }]),
        );
        const book = (nodeId: string, r: Resources, idx: number[]) => {
          const u = used.get(nodeId);
          if (u === undefined) return;
          for (const k of RESOURCES) u[k] += r[k];
          for (const i of idx) u.idx.add(i);
        };
        for (const a of snapshot.allocations) book(a.nodeId, a.resources, a.gpuIndices);
        const free = (n: NodeState): Resources => {
          const u = used.get(n.id) ?? { cpuMillis: 0, memoryBytes: 0, gpu: 0, idx: new Set() };
          const freeIdx = n.gpuIndices.filter((i) => !u.idx.has(i)).length;
          return {
            cpuMillis: Math.max(0, n.allocatable.cpuMillis - u.cpuMillis),
            memoryBytes: Math.max(0, n.allocatable.memoryBytes - u.memoryBytes),
            gpu: Math.max(0, Math.min(n.allocatable.gpu - u.gpu, freeIdx)),
          };
        };
        const key = { cpu: "cpuMillis", memory: "memoryBytes", gpu: "gpu" } as const;
        const order = [...snapshot.queue].sort(
          (a, b) => (b.priority ?? 0) - (a.priority ?? 0) || a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1),
        );
        const held = plan.reservations[0];
        for (const job of order) {
          const placed = plan.placed.find((p) => p.jobId === job.id);
          const only = job.components.length === 1 ? job.components[0] : undefined;
          if (only !== undefined) {
            const fitting = snapshot.nodes.filter(
              (n) =>
                n.ready &&
                n.cordoned !== true &&
                Object.entries(only.constraints ?? {}).every(([k, v]) => n.labels?.[k] === v) &&
                RESOURCES.every((r) => only.resources[r] <= free(n)[r]),
            );
            if (placed === undefined) {
              assert.deepEqual(fitting, [], `${job.id} was skipped although a node had room`);
            } else {
              const sign = job.mode === "single-metric-balanced" || job.mode === "spread" ? -1 : 1;
              const metric = key[job.metric];
              // binpack/spread: mean free fraction over the resources the node has.
              const score = (n: NodeState) => {
                const f = free(n);
                const parts = RESOURCES.filter((r) => n.allocatable[r] > 0 && (r !== "gpu" || n.gpuIndices.length > 0));
                return parts.length === 0 ? 0 : parts.reduce((a, r) => a + f[r] / n.allocatable[r], 0) / parts.length;
              };
              const rank = (n: NodeState) =>
                job.mode === "binpack" || job.mode === "spread" ? score(n) : free(n)[metric];
              fitting.sort(
                (a, b) =>
                  sign * (rank(a) - rank(b)) || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1),
              );
              assert.equal(placed.placements[0]?.nodeId, fitting[0]?.id, `${job.id} placed against its mode`);
            }
          }
          for (const p of placed?.placements ?? []) {
            book(p.nodeId, requestOf(snapshot, job.id, p.componentId).resources, p.gpuIndices);
          }
          // Jobs after the reservation's holder see its shares as taken.
          if (held?.jobId === job.id) {
            for (const n of held.nodes) {
              const u = used.get(n.nodeId);
              if (u !== undefined) u.gpu += n.resources.gpu;
              book(n.nodeId, { ...n.resources, gpu: 0 }, []);
            }
          }
        }
      }),
      PARAMS,
    );
  });

  after(() => {
    // Guard against vacuous properties: the generator must exercise real placements.
    assert.ok(seen.placedJobs > RUNS, `only ${seen.placedJobs} placed jobs generated`);
    assert.ok(seen.multiComponentPlaced > RUNS / 4, `only ${seen.multiComponentPlaced} multi-component placements`);
    assert.ok(seen.unplacedJobs > RUNS, `only ${seen.unplacedJobs} unplaced jobs generated`);
    assert.ok(seen.gpuPlacements > RUNS / 4, `only ${seen.gpuPlacements} gpu placements`);
    assert.ok(seen.neverFits > RUNS / 10, `only ${seen.neverFits} neverFits jobs`);
  });
});
