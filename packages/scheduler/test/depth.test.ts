// Example tests for labels/constraints, cordon, spread, binpack/spread modes,
// priority, reservations and validation of the new fields.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schedule } from "../src/index.js";
import type { QueuedJob } from "../src/types.js";
import { allocation, component, Gi, job, NOW, node, nodeOf, res, snapshot } from "./helpers.js";

const A100 = { gpu_model: "A100" };

describe("constraints", () => {
  const nodes = [
    node("plain", res(16, 16 * Gi)),
    node("a100", res(8, 16 * Gi), { labels: { gpu_model: "A100", zone: "a" } }),
    node("v100", res(8, 16 * Gi), { labels: { gpu_model: "V100" } }),
  ];

  it("places a constrained component only on a node carrying the label with that value", () => {
    const plan = schedule(snapshot(nodes, [job("j", [component("l-0", res(1), { constraints: A100 })])]), NOW);
    assert.equal(nodeOf(plan, "j", "l-0"), "a100");
  });

  it("counts nodes lacking a constraint label under 'constraint <key>'", () => {
    const busy = [allocation("a100", res(8))];
    const q = [job("j", [component("l-0", res(1), { constraints: { gpu_model: "A100", zone: "a" } })])];
    const plan = schedule(snapshot(nodes, q, busy), NOW);
    assert.deepEqual(plan.unplaced[0]?.explanation.filtered, { "constraint gpu_model": 2, "insufficient cpu": 1 });
    assert.equal(
      plan.unplaced[0]?.reason,
      "l-0 needs 1 cpu; no ready node has free cpu (3 nodes: 2 constraint gpu_model, 1 insufficient cpu)",
    );
  });

  it("never fits when no node carries the labels, reserves nothing and blocks nobody", () => {
    const q = [
      job("h100", [component("l-0", res(1), { constraints: { gpu_model: "H100" } })], { priority: 5 }),
      job("later", [component("x-0", res(1))]),
    ];
    const plan = schedule(snapshot(nodes, q), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.equal(
      plan.unplaced[0]?.reason,
      "l-0 needs 1 cpu on a node labelled gpu_model=H100 but no node carries those labels " +
        "(3 nodes: 3 constraint gpu_model); this job cannot run until such nodes join",
    );
    assert.deepEqual(plan.reservations, []);
    assert.equal(nodeOf(plan, "later", "x-0"), "plain");
  });
});

describe("cordoned nodes", () => {
  it("takes no new placement and is counted as 'cordoned', apart from 'not ready'", () => {
    const nodes = [node("c", res(64), { cordoned: true }), node("d", res(64), { ready: false }), node("small", res(1))];
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(2))])]), NOW);
    assert.deepEqual(plan.placed, []);
    assert.deepEqual(plan.unplaced[0]?.explanation.filtered, {
      "not ready": 1,
      cordoned: 1,
      "insufficient cpu": 1,
    });
    const fits = schedule(snapshot(nodes, [job("j", [component("a-0", res(1))])]), NOW);
    assert.equal(nodeOf(fits, "j", "a-0"), "small");
  });
});

describe("spread across nodes", () => {
  it("puts replicas of one type on different nodes even when compacted would pack them", () => {
    const nodes = [node("n1", res(8)), node("n2", res(8)), node("n3", res(8))];
    const q = [
      job(
        "j",
        [0, 1, 2].map((i) => component(`w-${i}`, res(1), { spread: true })),
        {
          mode: "single-metric-compacted",
        },
      ),
    ];
    const plan = schedule(snapshot(nodes, q), NOW);
    assert.deepEqual(plan.placed[0]?.placements.map((p) => p.nodeId).sort(), ["n1", "n2", "n3"]);
  });

  it("counts a node already holding a replica as 'spread'", () => {
    const nodes = [node("n1", res(4)), node("n2", res(4))];
    const q = [job("j", [component("w-0", res(2), { spread: true }), component("w-1", res(2), { spread: true })])];
    const plan = schedule(snapshot(nodes, q, [allocation("n2", res(3))]), NOW);
    assert.deepEqual(plan.unplaced[0]?.explanation, {
      componentId: "w-1",
      needs: res(2),
      nodesEvaluated: 2,
      filtered: { spread: 1, "insufficient cpu": 1 },
    });
  });

  it("never fits when there are more replicas than nodes able to hold one", () => {
    const nodes = [node("n1", res(4)), node("n2", res(4)), node("tiny", res(1))];
    const q = [
      job(
        "j",
        [0, 1, 2].map((i) => component(`w-${i}`, res(2), { spread: true })),
      ),
    ];
    const plan = schedule(snapshot(nodes, q), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.deepEqual(plan.unplaced[0]?.explanation.filtered, { spread: 2, "insufficient cpu": 1 });
    assert.deepEqual(plan.reservations, []);
  });
});

describe("binpack and spread modes", () => {
  // "half" is half used in cpu and memory; "empty" is empty; "cpuFull" is 3/4 used in cpu only.
  const nodes = [node("empty", res(8, 8 * Gi)), node("half", res(8, 8 * Gi)), node("cpuFull", res(8, 8 * Gi))];
  const running = [allocation("half", res(4, 4 * Gi)), allocation("cpuFull", res(6))];
  const one = (mode: QueuedJob["mode"]) => [job("j", [component("a-0", res(1, Gi))], { mode })];

  it("binpack picks the fullest node over all resources", () => {
    // Mean free fraction: empty 1, half 0.5, cpuFull (0.25 + 1) / 2 = 0.625.
    assert.equal(nodeOf(schedule(snapshot(nodes, one("binpack"), running), NOW), "j", "a-0"), "half");
  });

  it("spread picks the emptiest node over all resources", () => {
    assert.equal(nodeOf(schedule(snapshot(nodes, one("spread"), running), NOW), "j", "a-0"), "empty");
  });

  it("binpack skips the fullest node when the request does not fit there", () => {
    const q = [job("j", [component("a-0", res(5))], { mode: "binpack" })];
    assert.equal(nodeOf(schedule(snapshot(nodes, q, running), NOW), "j", "a-0"), "empty");
  });

  it("single-metric-compacted by cpu would pick cpuFull instead", () => {
    const q = [job("j", [component("a-0", res(1, Gi))], { mode: "single-metric-compacted" })];
    assert.equal(nodeOf(schedule(snapshot(nodes, q, running), NOW), "j", "a-0"), "cpuFull");
  });
});

describe("priority and reservations", () => {
  it("takes higher priority first, then submission order", () => {
    const one = [node("n1", res(4))];
    const q = [
      job("early", [component("x-0", res(4))], { submittedAt: 1 }),
      job("urgent", [component("x-0", res(4))], { submittedAt: 9, priority: 2 }),
    ];
    const plan = schedule(snapshot(one, q), NOW);
    assert.deepEqual(
      plan.placed.map((p) => p.jobId),
      ["urgent"],
    );
  });

  // n1 has 1 cpu free, n2 has 2: the head (4 cpu) fits nowhere now.
  const nodes = [node("n1", res(4)), node("n2", res(4))];
  const running = [allocation("n1", res(3)), allocation("n2", res(2))];
  const head = job("head", [component("w-0", res(4))], { priority: 1 });
  const small = (id: string, at: number) => job(id, [component("s-0", res(1))], { submittedAt: at });

  it("reserves the node with the most free now for the blocked head; backfill uses only the rest", () => {
    const plan = schedule(snapshot(nodes, [head, small("s1", 1), small("s2", 2)], running), NOW);
    assert.deepEqual(plan.reservations, [
      { jobId: "head", nodes: [{ nodeId: "n2", resources: res(4), componentIds: ["w-0"] }] },
    ]);
    assert.equal(nodeOf(plan, "s1", "s-0"), "n1");
    const s2 = plan.unplaced.find((u) => u.jobId === "s2");
    assert.deepEqual(s2?.explanation.filtered, { "insufficient cpu": 1, reserved: 1 });
    assert.equal(
      s2?.reason,
      "s-0 needs 1 cpu; the free room it fits in is reserved for job head (2 nodes: 1 insufficient cpu, 1 reserved)",
    );
    assert.equal(plan.unplaced.find((u) => u.jobId === "head")?.neverFits, false);
  });

  it("keeps the previous reservation passed back in the snapshot while it is still valid", () => {
    const previous = [{ jobId: "head", nodes: [{ nodeId: "n1", resources: res(4), componentIds: ["w-0"] }] }];
    const plan = schedule({ ...snapshot(nodes, [head, small("s1", 1)], running), reservations: previous }, NOW);
    assert.deepEqual(plan.reservations, previous);
    assert.equal(nodeOf(plan, "s1", "s-0"), "n2");
    // Once n1 is cordoned the old reservation is no longer valid and a new one is chosen.
    const cordoned = [node("n1", res(4), { cordoned: true }), node("n2", res(4))];
    const moved = schedule({ ...snapshot(cordoned, [head], running), reservations: previous }, NOW);
    assert.deepEqual(moved.reservations[0]?.nodes[0]?.nodeId, "n2");
  });

  it("lets a job that can never fit neither reserve nor block", () => {
    const huge = job("huge", [component("w-0", res(64))], { priority: 9 });
    const plan = schedule(snapshot(nodes, [huge, small("s1", 1)], running), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.deepEqual(plan.reservations, []);
    assert.equal(nodeOf(plan, "s1", "s-0"), "n2");
  });

  it("reserves nothing for a gang that cannot fit on the cluster even empty", () => {
    const gang = job("gang", [component("w-0", res(3)), component("w-1", res(3)), component("w-2", res(3))], {
      priority: 1,
    });
    const plan = schedule(snapshot(nodes, [gang, small("s1", 1)]), NOW);
    assert.deepEqual(plan.reservations, []);
    assert.ok(plan.placed.some((p) => p.jobId === "s1"));
  });
});

describe("validation of the new fields", () => {
  const nodes = [node("n1", res(4))];
  const reasons = (q: QueuedJob[]) => schedule(snapshot(nodes, q), NOW).unplaced.map((u) => [u.jobId, u.reason]);

  it("reports an unknown mode, a bad priority, bad constraints and an unknown spreadAcross", () => {
    const badMode = { ...job("mode", [component("a-0", res(1))]), mode: "fastest" } as unknown as QueuedJob;
    const badPriority = job("prio", [component("a-0", res(1))], { priority: 1.5 });
    const bigPriority = job("prio2", [component("a-0", res(1))], { priority: 2 ** 31 });
    const emptyValue = job("cons", [component("a-0", res(1), { constraints: { gpu_model: "" } })]);
    const emptyKey = job("key", [component("a-0", res(1), { constraints: { "": "x" } })]);
    const spread = job("spr", [
      { ...component("a-0", res(1)), spreadAcross: "zone" } as unknown as QueuedJob["components"][0],
    ]);
    assert.deepEqual(reasons([badMode, badPriority, bigPriority, emptyValue, emptyKey, spread]), [
      ["cons", "a-0: constraint gpu_model needs a non-empty string value, e.g. gpu_model: A100"],
      ["key", "a-0: constraints has an empty label name; name the label, e.g. gpu_model: A100"],
      [
        "mode",
        'job has an unknown allocation mode "fastest"; use one of single-metric-balanced, single-metric-compacted, binpack, spread',
      ],
      ["prio", "job has an invalid priority 1.5; use a whole number from -2147483648 to 2147483647"],
      ["prio2", "job has an invalid priority 2147483648; use a whole number from -2147483648 to 2147483647"],
      ["spr", 'a-0: spreadAcross "zone" is not supported; use "node" or leave it out'],
    ]);
  });

  it("accepts negative priorities and queues them last", () => {
    const q = [
      job("low", [component("a-0", res(4))], { priority: -3 }),
      job("zero", [component("a-0", res(4))], { submittedAt: 5 }),
    ];
    const plan = schedule(snapshot(nodes, q), NOW);
    assert.deepEqual(
      plan.placed.map((p) => p.jobId),
      ["zero"],
    );
  });
});
