import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schedule } from "../src/index.js";
import { allocation, component, Gi, job, Mi, NOW, node, nodeOf, res, snapshot } from "./helpers.js";

describe("reasons", () => {
  it("names the component, its needs and the largest free amount and where", () => {
    const nodes = [node("n0", res(8, 8 * Gi), { name: "node-0" }), node("n1", res(2, 8 * Gi), { name: "node-1" })];
    const busy = [allocation("n0", res(7, Gi))];
    const plan = schedule(snapshot(nodes, [job("j", [component("learner-0", res(4, 256 * Mi))])], busy, 42), NOW);
    assert.equal(plan.snapshotVersion, 42);
    assert.deepEqual(plan.unplaced, [
      {
        jobId: "j",
        reason: "learner-0 needs 4 cpu, 256Mi memory; largest free cpu is 2 on node-1 (2 nodes: 2 insufficient cpu)",
        neverFits: false,
        explanation: {
          componentId: "learner-0",
          needs: res(4, 256 * Mi),
          nodesEvaluated: 2,
          filtered: { "insufficient cpu": 2 },
        },
      },
    ]);
  });

  it("counts a node under the first resource it lacks (cpu, memory, gpu)", () => {
    const nodes = [node("n1", res(1, 1 * Gi)), node("n2", res(8, 1 * Gi)), node("n3", res(8, 8 * Gi, 1))];
    const running = [allocation("n3", res(0, 0, 1), [0])];
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(2, 2 * Gi, 1))])], running), NOW);
    assert.deepEqual(plan.unplaced[0]?.explanation.filtered, {
      "insufficient cpu": 1,
      "insufficient memory": 1,
      "insufficient gpu": 1,
    });
    assert.equal(
      plan.unplaced[0]?.reason,
      "a-0 needs 2 cpu, 2Gi memory, 1 gpu; no ready node has free gpu (3 nodes: 1 insufficient cpu, 1 insufficient memory, 1 insufficient gpu)",
    );
  });

  it("explains when every resource exists but never on one node", () => {
    const nodes = [node("cpu", res(8, 1 * Gi)), node("mem", res(1, 16 * Gi)), node("both", res(4, 4 * Gi))];
    const running = [allocation("cpu", res(0.5)), allocation("mem", res(0, Gi)), allocation("both", res(4, 4 * Gi))];
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(2, 2 * Gi))])], running), NOW);
    assert.equal(
      plan.unplaced[0]?.reason,
      "a-0 needs 2 cpu, 2Gi memory; no ready node has all of it at once: " +
        "largest free cpu is 7.5 on cpu, largest free memory is 15Gi on mem (3 nodes: 2 insufficient cpu, 1 insufficient memory)",
    );
  });
});

describe("neverFits", () => {
  it("is set when no node could hold the component even empty", () => {
    const nodes = [node("n1", res(2, 8 * Gi), { name: "node-1" }), node("n2", res(1, 4 * Gi), { ready: false })];
    const plan = schedule(snapshot(nodes, [job("j", [component("learner-0", res(64))])]), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.equal(
      plan.unplaced[0]?.reason,
      "learner-0 needs 64 cpu but the largest node offers 2 cpu; this job cannot run on this cluster until bigger nodes join",
    );
  });

  it("is reported for the component that can never fit, even if another fails first", () => {
    const nodes = [node("n1", res(4, 8 * Gi))];
    const busy = [allocation("n1", res(4))];
    const q = [job("j", [component("big-0", res(3)), component("huge-0", res(1, 16 * Gi))])];
    const plan = schedule(snapshot(nodes, q, busy), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.equal(plan.unplaced[0]?.explanation.componentId, "huge-0");
    assert.match(plan.unplaced[0]?.reason ?? "", /largest node offers 8Gi memory/);
  });

  it("explains a request no single node can hold although each resource exists somewhere", () => {
    const nodes = [node("cpu", res(8, 1 * Gi)), node("mem", res(1, 16 * Gi))];
    const plan = schedule(snapshot(nodes, [job("j", [component("a-0", res(2, 2 * Gi))])]), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.equal(
      plan.unplaced[0]?.reason,
      "a-0 needs 2 cpu, 2Gi memory but no node offers all of it at once (largest: 8 cpu on cpu, 16Gi memory on mem); " +
        "this job cannot run on this cluster until bigger nodes join",
    );
  });

  it("is set on an empty cluster", () => {
    const plan = schedule(snapshot([], [job("j", [component("a-0", res(1))])]), NOW);
    assert.equal(plan.unplaced[0]?.neverFits, true);
    assert.equal(
      plan.unplaced[0]?.reason,
      "a-0 needs 1 cpu but the cluster has no nodes; this job cannot run until nodes join",
    );
  });

  it("is not set when a busy node could hold it once free", () => {
    const plan = schedule(
      snapshot([node("n1", res(4))], [job("j", [component("a-0", res(4))])], [allocation("n1", res(1))]),
      NOW,
    );
    assert.equal(plan.unplaced[0]?.neverFits, false);
  });
});

describe("malformed jobs", () => {
  const nodes = [node("n1", res(4, 4 * Gi, 2))];

  it("leaves a job with no components unplaced", () => {
    const plan = schedule(snapshot(nodes, [job("empty", [])]), NOW);
    assert.deepEqual(plan.placed, []);
    assert.deepEqual(plan.unplaced, [
      {
        jobId: "empty",
        reason: "job has no components",
        neverFits: true,
        explanation: { componentId: "", needs: res(0), nodesEvaluated: 0, filtered: {} },
      },
    ]);
  });

  it("rejects duplicate component ids and invalid quantities", () => {
    const dup = job("dup", [component("a-0", res(1)), component("a-0", res(1))]);
    const neg = job("neg", [component("a-0", res(-1))]);
    const half = job("half", [component("a-0", res(1, 0, 0.5))]);
    const plan = schedule(snapshot(nodes, [dup, neg, half]), NOW);
    assert.deepEqual(
      plan.unplaced.map((u) => [u.jobId, u.neverFits, u.reason]),
      [
        ["dup", true, "job has more than one component with id a-0"],
        ["half", true, "a-0 has an invalid request: gpu 0.5 is not a whole number of devices"],
        ["neg", true, "a-0 has an invalid request: cpuMillis -1000 is not a non-negative number"],
      ],
    );
  });

  it("considers only the first queue entry of a job id", () => {
    const first = job("j", [component("a-0", res(1))], { submittedAt: 1 });
    const again = job("j", [component("b-0", res(1))], { submittedAt: 2 });
    const plan = schedule(snapshot(nodes, [again, first]), NOW);
    assert.deepEqual(plan.placed, [{ jobId: "j", placements: [{ componentId: "a-0", nodeId: "n1", gpuIndices: [] }] }]);
    assert.deepEqual(plan.unplaced, []);
  });

  it("places a component that asks for nothing on any ready node", () => {
    const full = [allocation("n1", res(4, 4 * Gi, 2), [0, 1])];
    const plan = schedule(snapshot(nodes, [job("j", [component("sidecar-0", res(0))])], full), NOW);
    assert.equal(nodeOf(plan, "j", "sidecar-0"), "n1");
  });
});
