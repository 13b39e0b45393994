// Properties of constraints, spread, reservations and the queue head. Checks
// are plain sums and sets over the snapshot and plan, never the scheduler's
// own ledger.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { schedule } from "../src/index.js";
import type { Allocation, NodeState, Plan, QueuedJob, Reservation, Resources, Snapshot } from "../src/types.js";
import { arbSnapshot, PARAMS, SEED } from "./arbitraries.js";
import { Gi } from "./helpers.js";

const RESOURCES = ["cpuMillis", "memoryBytes", "gpu"] as const;
const run = (snapshot: Snapshot): Plan => schedule(snapshot, { now: 0 });

describe("constraints, spread and reservations", () => {
  it("always honours constraints and spread", () => {
    let constrained = 0;
    let spread = 0;
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        for (const placed of run(snapshot).placed) {
          const job = snapshot.queue.find((j) => j.id === placed.jobId) as QueuedJob;
          const typesOn = new Set<string>();
          for (const p of placed.placements) {
            const c = job.components.find((x) => x.id === p.componentId);
            const n = snapshot.nodes.find((x) => x.id === p.nodeId);
            assert.ok(c && n);
            for (const [k, v] of Object.entries(c.constraints ?? {})) {
              assert.equal(n.labels?.[k], v, `${c.id} placed on ${n.id} without ${k}=${v}`);
              constrained++;
            }
            if (c.spreadAcross === "node") {
              const key = `${c.type}@${n.id}`;
              assert.ok(!typesOn.has(key), `two ${c.type} replicas of ${job.id} on ${n.id}`);
              typesOn.add(key);
              spread++;
            }
          }
        }
      }),
      PARAMS,
    );
    assert.ok(constrained > 100 && spread > 100, `constrained ${constrained}, spread ${spread}: generator too weak`);
  });

  it("makes at most one reservation, for a blocked job that can run here, on nodes that could hold it", () => {
    let reservations = 0;
    fc.assert(
      fc.property(arbSnapshot, (snapshot) => {
        const plan = run(snapshot);
        assert.ok(plan.reservations.length <= 1);
        const r = plan.reservations[0];
        if (r === undefined) return;
        reservations++;
        const u = plan.unplaced.find((x) => x.jobId === r.jobId);
        assert.ok(u, "the reservation's job is unplaced");
        assert.equal(u.neverFits, false);
        const job = snapshot.queue.find((j) => j.id === r.jobId) as QueuedJob;
        assert.deepEqual(r.nodes.flatMap((n) => n.componentIds).sort(), job.components.map((c) => c.id).sort());
        for (const held of r.nodes) {
          const n = snapshot.nodes.find((x) => x.id === held.nodeId) as NodeState;
          assert.ok(n.ready && n.cordoned !== true, "reserved node is schedulable");
          const sum: Resources = { cpuMillis: 0, memoryBytes: 0, gpu: 0 };
          for (const id of held.componentIds) {
            const c = job.components.find((x) => x.id === id);
            assert.ok(c);
            for (const [k, v] of Object.entries(c.constraints ?? {})) assert.equal(n.labels?.[k], v);
            for (const k of RESOURCES) sum[k] += c.resources[k];
          }
          assert.deepEqual(held.resources, sum);
          for (const k of RESOURCES) assert.ok(sum[k] <= n.allocatable[k], `reservation exceeds ${n.id} ${k}`);
        }
      }),
      PARAMS,
    );
    assert.ok(reservations > 50, `only ${reservations} reservations generated`);
  });
});

// ---- No starvation of the queue head -------------------------------------------------------------
//
// Rounds: each round the running allocations whose end round has come end, then
// schedule() runs on the cluster with the head (priority 1) and the pending
// backfill jobs (priority 0, arriving each round, each running a few rounds
// once placed), passing back the previous plan's reservations. Compared with
// the same rounds without any backfill job.

interface World {
  nodes: NodeState[];
  running: Array<Allocation & { endsAt: number }>;
  head: QueuedJob;
  arrivals: QueuedJob[][];
  durations: Map<string, number>;
}

const sim = fc
  .record({
    nodes: fc.array(fc.record({ cpu: fc.constantFrom(4000, 8000), memGi: fc.constantFrom(8, 16) }), {
      minLength: 1,
      maxLength: 5,
    }),
    running: fc.array(
      fc.record({
        node: fc.nat({ max: 4 }),
        cpu: fc.constantFrom(500, 1000, 2000, 3000),
        memGi: fc.constantFrom(1, 2, 4),
        endsAt: fc.integer({ min: 1, max: 8 }),
      }),
      { minLength: 1, maxLength: 14 },
    ),
    head: fc.array(fc.record({ cpu: fc.constantFrom(1000, 2000, 3000, 4000), memGi: fc.constantFrom(1, 2, 4) }), {
      minLength: 1,
      maxLength: 3,
    }),
    headMode: fc.constantFrom("single-metric-balanced" as const, "binpack" as const, "spread" as const),
    arrivals: fc.array(
      fc.array(
        fc.record({
          cpu: fc.constantFrom(250, 500, 1000),
          memGi: fc.constantFrom(1, 2),
          lasts: fc.integer({ min: 1, max: 5 }),
        }),
        { maxLength: 3 },
      ),
      { minLength: 10, maxLength: 10 },
    ),
  })
  .map((s): World => {
    const nodes: NodeState[] = s.nodes.map((n, i) => ({
      id: `n${i}`,
      name: `n${i}`,
      ready: true,
      allocatable: { cpuMillis: n.cpu, memoryBytes: n.memGi * Gi, gpu: 0 },
      gpuIndices: [],
    }));
    const used = nodes.map(() => ({ cpu: 0, mem: 0 }));
    const running: World["running"] = [];
    s.running.forEach((a, i) => {
      const k = a.node % nodes.length;
      const n = nodes[k] as NodeState;
      const u = used[k] as { cpu: number; mem: number };
      if (u.cpu + a.cpu > n.allocatable.cpuMillis || u.mem + a.memGi * Gi > n.allocatable.memoryBytes) return;
      u.cpu += a.cpu;
      u.mem += a.memGi * Gi;
      const resources = { cpuMillis: a.cpu, memoryBytes: a.memGi * Gi, gpu: 0 };
      running.push({
        jobId: `old-${i}`,
        componentId: "c-0",
        nodeId: n.id,
        resources,
        gpuIndices: [],
        endsAt: a.endsAt,
      });
    });
    const head: QueuedJob = {
      id: "head",
      name: "head",
      mode: s.headMode,
      metric: "cpu",
      submittedAt: 0,
      priority: 1,
      components: s.head.map((c, k) => ({
        id: `w-${k}`,
        type: "w",
        index: k,
        resources: { cpuMillis: c.cpu, memoryBytes: c.memGi * Gi, gpu: 0 },
      })),
    };
    const durations = new Map<string, number>();
    const arrivals = s.arrivals.map((round, r) =>
      round.map((b, k): QueuedJob => {
        const id = `b-${r}-${k}`;
        durations.set(id, b.lasts);
        return {
          id,
          name: id,
          mode: "single-metric-compacted",
          metric: "cpu",
          submittedAt: 1 + r,
          components: [
            { id: "s-0", type: "s", index: 0, resources: { cpuMillis: b.cpu, memoryBytes: b.memGi * Gi, gpu: 0 } },
          ],
        };
      }),
    );
    return { nodes, running, head, arrivals, durations };
  });

interface Outcome {
  /** Round the head was placed in (Infinity if never within the horizon). */
  placedAt: number;
  /** The reservation of every round the head was blocked. */
  reservations: Reservation[];
}

const HORIZON = 12;

function simulate(world: World, withBackfill: boolean): Outcome {
  let running = world.running.map((a) => ({ ...a }));
  let pending: QueuedJob[] = [];
  let previous: Reservation[] = [];
  const reservations: Reservation[] = [];
  for (let round = 0; round < HORIZON; round++) {
    running = running.filter((a) => a.endsAt > round);
    if (withBackfill) pending = [...pending, ...(world.arrivals[round] ?? [])];
    const snapshot: Snapshot = {
      version: round,
      nodes: world.nodes,
      allocations: running,
      queue: [world.head, ...pending],
      reservations: previous,
    };
    const plan = schedule(snapshot, { now: round });
    for (const placed of plan.placed) {
      if (placed.jobId === world.head.id) return { placedAt: round, reservations };
      const job = pending.find((j) => j.id === placed.jobId) as QueuedJob;
      for (const p of placed.placements) {
        const resources = job.components.find((c) => c.id === p.componentId)?.resources as Resources;
        const endsAt = round + (world.durations.get(job.id) ?? 1);
        running.push({
          jobId: job.id,
          componentId: p.componentId,
          nodeId: p.nodeId,
          resources,
          gpuIndices: [],
          endsAt,
        });
      }
    }
    const placedIds = new Set(plan.placed.map((p) => p.jobId));
    pending = pending.filter((j) => !placedIds.has(j.id));
    previous = plan.reservations;
    const mine = plan.reservations.find((r) => r.jobId === world.head.id);
    if (mine !== undefined) reservations.push(mine);
  }
  return { placedAt: Number.POSITIVE_INFINITY, reservations };
}

/** The first round at which every share of `r` fits beside the original running work still alive then. */
function reservationFitsAt(world: World, r: Reservation): number {
  for (let round = 0; round < HORIZON; round++) {
    const fits = r.nodes.every((held) => {
      const n = world.nodes.find((x) => x.id === held.nodeId) as NodeState;
      const alive = world.running.filter((a) => a.nodeId === n.id && a.endsAt > round);
      return RESOURCES.every(
        (k) => alive.reduce((s, a) => s + a.resources[k], 0) + held.resources[k] <= n.allocatable[k],
      );
    });
    if (fits) return round;
  }
  return Number.POSITIVE_INFINITY;
}

describe("no starvation of the queue head", () => {
  it("keeps the head's reservation fixed and places the head no later than its reserved nodes would free up with no backfill at all", () => {
    const seen = { blocked: 0, backfilled: 0, delayedByChoice: 0 };
    fc.assert(
      fc.property(sim, (world) => {
        const alone = simulate(world, false);
        const busy = simulate(world, true);
        // Every original allocation ends by round 8, and the head fits on an empty cluster or never.
        const first = busy.reservations[0];
        if (first === undefined) {
          // Never blocked with a reservation: placed at round 0, or it can never run on this cluster.
          assert.equal(busy.placedAt, alone.placedAt);
          return;
        }
        seen.blocked++;
        if (world.arrivals.some((a) => a.length > 0)) seen.backfilled++;
        for (const r of busy.reservations) assert.deepEqual(r, first, "the head's reservation never moves");
        const bound = reservationFitsAt(world, first);
        assert.ok(Number.isFinite(bound), "the reservation fits once the original work has ended");
        assert.ok(busy.placedAt <= bound, `head placed at ${busy.placedAt}, its reservation was free at ${bound}`);
        assert.ok(alone.placedAt <= bound);
        if (busy.placedAt > alone.placedAt) seen.delayedByChoice++;
      }),
      { seed: SEED, numRuns: 300 },
    );
    if (process.env.SIM_STATS) console.log(seen);
    assert.ok(seen.blocked > 60 && seen.backfilled > 50, `only ${seen.blocked} blocked heads generated`);
  });
});
