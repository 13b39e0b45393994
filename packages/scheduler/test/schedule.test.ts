import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schedule } from "../src/index.js";
import { allocation, component, Gi, job, Mi, NOW, node, nodeOf, res, snapshot } from "./helpers.js";

describe("allocation modes", () => {
  const nodes = [node("big", res(8, 8 * Gi)), node("small", res(2, 8 * Gi))];

  it("balanced picks the node with the most free of the metric", () => {
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(1, Gi))])]), NOW);
    assert.equal(nodeOf(plan, "j", "a-0"), "big");
  });

  it("compacted picks the node with the least free of the metric that still fits", () => {
    const q = [job("j", [component("a-0", res(1, Gi))], { mode: "single-metric-compacted" })];
    assert.equal(nodeOf(schedule(snapshot(nodes, q), NOW), "j", "a-0"), "small");
  });

  it("compacted skips a tighter node that does not fit", () => {
    const q = [job("j", [component("a-0", res(3, Gi))], { mode: "single-metric-compacted" })];
    assert.equal(nodeOf(schedule(snapshot(nodes, q), NOW), "j", "a-0"), "big");
  });

  it("scores by the job's metric, not by cpu", () => {
    const mixed = [node("cpu-rich", res(16, 2 * Gi)), node("mem-rich", res(2, 32 * Gi))];
    const byMemory = [job("j", [component("a-0", res(1, Gi))], { metric: "memory" })];
    const byCpu = [job("j", [component("a-0", res(1, Gi))], { metric: "cpu" })];
    assert.equal(nodeOf(schedule(snapshot(mixed, byMemory), NOW), "j", "a-0"), "mem-rich");
    assert.equal(nodeOf(schedule(snapshot(mixed, byCpu), NOW), "j", "a-0"), "cpu-rich");
  });

  it("balanced spreads a job's components; compacted packs them", () => {
    const two = [node("n1", res(4, 8 * Gi)), node("n2", res(4, 8 * Gi))];
    const comps = [component("w-0", res(1)), component("w-1", res(1))];
    const spread = schedule(snapshot(two, [job("j", comps)]), NOW);
    assert.deepEqual(
      spread.placed[0]?.placements.map((p) => p.nodeId),
      ["n1", "n2"],
    );
    const packed = schedule(snapshot(two, [job("j", comps, { mode: "single-metric-compacted" })]), NOW);
    assert.deepEqual(
      packed.placed[0]?.placements.map((p) => p.nodeId),
      ["n1", "n1"],
    );
  });

  it("breaks ties by node name, then id", () => {
    const tied = [node("z", res(4), { name: "b" }), node("y", res(4), { name: "a" }), node("x", res(4), { name: "a" })];
    const plan = schedule(snapshot(tied, [job("j", [component("a-0", res(1))])]), NOW);
    assert.equal(nodeOf(plan, "j", "a-0"), "x");
  });

  it("places large components first (so balanced fits both) and reports them in the job's component order", () => {
    const nodes2 = [node("n4", res(4)), node("n2", res(2))];
    // Taken in array order, balanced would put small-0 on n4 and then find no room for big-0.
    const q = [job("j", [component("small-0", res(2)), component("big-0", res(4))])];
    assert.deepEqual(schedule(snapshot(nodes2, q), NOW).placed[0]?.placements, [
      { componentId: "small-0", nodeId: "n2", gpuIndices: [] },
      { componentId: "big-0", nodeId: "n4", gpuIndices: [] },
    ]);
  });
});

describe("gang placement", () => {
  const nodes = [node("n1", res(4, 8 * Gi)), node("n2", res(4, 8 * Gi))];
  const gang = job("gang", [component("w-0", res(3)), component("w-1", res(3)), component("w-2", res(3))], {
    submittedAt: 1,
  });
  const later = job("later", [component("solo-0", res(4))], { submittedAt: 2 });

  it("places nothing of a job whose components do not all fit, and later jobs still run", () => {
    const plan = schedule(snapshot(nodes, [later, gang]), NOW);
    assert.deepEqual(
      plan.unplaced.map((u) => u.jobId),
      ["gang"],
    );
    assert.equal(
      plan.placed.find((p) => p.jobId === "gang"),
      undefined,
    );
    // solo-0 needs a whole empty node: it only fits if the gang left nothing behind.
    assert.deepEqual(plan.placed, [
      { jobId: "later", placements: [{ componentId: "solo-0", nodeId: "n1", gpuIndices: [] }] },
    ]);
    const unplaced = plan.unplaced[0];
    assert.equal(unplaced?.neverFits, false);
    assert.equal(unplaced?.explanation.componentId, "w-2");
    assert.match(
      unplaced?.reason ?? "",
      /^w-2 needs 3 cpu; largest free cpu is 1 on n1 after placing 2 other components/,
    );
  });

  it("queue order is submittedAt, then id, whatever the array order", () => {
    const a = job("a", [component("x-0", res(4))], { submittedAt: 5 });
    const b = job("b", [component("x-0", res(4))], { submittedAt: 5 });
    const c = job("c", [component("x-0", res(4))], { submittedAt: 1 });
    const one = [node("n1", res(4))];
    const plan = schedule(snapshot(one, [a, b, c]), NOW);
    assert.deepEqual(
      plan.placed.map((p) => p.jobId),
      ["c"],
    );
    assert.deepEqual(
      plan.unplaced.map((u) => u.jobId),
      ["a", "b"],
    );
    const two = schedule(snapshot([node("n1", res(4)), node("n2", res(4))], [b, a, c]), NOW);
    assert.deepEqual(
      two.placed.map((p) => p.jobId),
      ["c", "a"],
    );
  });
});

describe("gpus", () => {
  it("assigns distinct, lowest free indices that no existing allocation uses", () => {
    const nodes = [node("g", res(16, 64 * Gi, 4))];
    const existing = [allocation("g", res(1, Gi, 1), [1])];
    const q = [job("j", [component("one-0", res(1, Gi, 1)), component("two-0", res(1, Gi, 2))], { metric: "gpu" })];
    const plan = schedule(snapshot(nodes, q, existing), NOW);
    assert.deepEqual(plan.placed[0]?.placements, [
      { componentId: "one-0", nodeId: "g", gpuIndices: [3] },
      { componentId: "two-0", nodeId: "g", gpuIndices: [0, 2] },
    ]);
  });

  it("uses the node's own device indices and never more devices than exist", () => {
    const nodes = [node("g", res(16, 64 * Gi, 2), { gpuIndices: [6, 4] })];
    const q = [
      job("j1", [component("a-0", res(1, 0, 1))], { submittedAt: 1 }),
      job("j2", [component("a-0", res(1, 0, 1))], { submittedAt: 2 }),
      job("j3", [component("a-0", res(1, 0, 1))], { submittedAt: 3 }),
    ];
    const plan = schedule(snapshot(nodes, q), NOW);
    assert.deepEqual(
      plan.placed.map((p) => p.placements[0]?.gpuIndices),
      [[4], [6]],
    );
    assert.equal(plan.unplaced[0]?.jobId, "j3");
    assert.equal(
      plan.unplaced[0]?.reason,
      "a-0 needs 1 cpu, 1 gpu; no ready node has free gpu (1 node: 1 insufficient gpu)",
    );
  });

  it("counts a gpu taken by an allocation that lists no index", () => {
    const nodes = [node("g", res(16, 64 * Gi, 2))];
    const plan = schedule(
      snapshot(nodes, [job("j", [component("a-0", res(1, 0, 2))])], [allocation("g", res(1, 0, 1))]),
      NOW,
    );
    assert.equal(plan.placed.length, 0);
    assert.deepEqual(plan.unplaced[0]?.explanation.filtered, { "insufficient gpu": 1 });
  });
});

describe("node readiness and unknown nodes", () => {
  it("never places on a node that is not ready", () => {
    const nodes = [node("down", res(64, 64 * Gi), { ready: false }), node("up", res(2, 4 * Gi))];
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(1))])]), NOW);
    assert.equal(nodeOf(plan, "j", "a-0"), "up");
    const big = schedule(snapshot(nodes, [job("j", [component("a-0", res(8))])]), NOW);
    assert.equal(big.unplaced[0]?.neverFits, false, "the down node could hold it once it is back");
    assert.deepEqual(big.unplaced[0]?.explanation, {
      componentId: "a-0",
      needs: res(8),
      nodesEvaluated: 2,
      filtered: { "not ready": 1, "insufficient cpu": 1 },
    });
  });

  it("says so when no node is ready", () => {
    const nodes = [node("down", res(64, 64 * Gi), { ready: false })];
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(1, 256 * Mi))])]), NOW);
    assert.equal(plan.unplaced[0]?.reason, "a-0 needs 1 cpu, 256Mi memory; no ready nodes (1 node: 1 not ready)");
  });

  it("ignores allocations on unknown nodes", () => {
    const plan = schedule(
      snapshot([node("n1", res(4))], [job("j", [component("a-0", res(4))])], [allocation("ghost", res(4))]),
      NOW,
    );
    assert.equal(nodeOf(plan, "j", "a-0"), "n1");
  });

  it("subtracts existing allocations on known nodes", () => {
    const plan = schedule(
      snapshot([node("n1", res(4))], [job("j", [component("a-0", res(4))])], [allocation("n1", res(0.5))]),
      NOW,
    );
    assert.equal(
      plan.unplaced[0]?.reason,
      "a-0 needs 4 cpu; largest free cpu is 3.5 on n1 (1 node: 1 insufficient cpu)",
    );
  });
});

describe("purity", () => {
  const nodes = [
    node("n1", res(4, 8 * Gi, 2)),
    node("n2", res(8, 4 * Gi, 1), { ready: false }),
    node("n3", res(2, 2 * Gi)),
  ];
  const q = [
    job("a", [component("l-0", res(2, Gi, 1)), component("a-0", res(1, Gi)), component("a-1", res(1, Gi))], {
      metric: "gpu",
    }),
    job("b", [component("x-0", res(3, Gi))], { mode: "single-metric-compacted", submittedAt: 1 }),
    job("c", [component("y-0", res(1, Gi))], { submittedAt: 1 }),
  ];
  const input = snapshot(nodes, q, [allocation("n1", res(1, Gi, 1), [0])]);

  it("gives deep-equal plans for the same input and does not touch the input", () => {
    const before = structuredClone(input);
    const first = schedule(input, { now: 1, seed: 1 });
    const second = schedule(structuredClone(input), { now: 999_999, seed: 7 });
    assert.deepEqual(first, second);
    assert.deepEqual(input, before);
  });

  it("does not read the clock or Math.random", (t) => {
    t.mock.method(Date, "now", () => {
      throw new Error("clock read");
    });
    t.mock.method(Math, "random", () => {
      throw new Error("randomness drawn");
    });
    assert.doesNotThrow(() => schedule(input, NOW));
  });
});
