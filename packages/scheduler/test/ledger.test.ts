import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ledger } from "../src/index.js";
import { allocation, Gi, node, res } from "./helpers.js";

describe("Ledger", () => {
  it("subtracts allocations and ignores unknown nodes and later duplicate node ids", () => {
    const ledger = new Ledger(
      [node("n1", res(4, 8 * Gi, 2)), node("n1", res(64, 64 * Gi))],
      [allocation("n1", res(1, Gi, 1), [0]), allocation("ghost", res(4))],
    );
    assert.equal(ledger.nodes.length, 1);
    assert.deepEqual(ledger.free("n1"), res(3, 7 * Gi, 1));
  });

  it("never reports negative free amounts on an over-committed node", () => {
    const ledger = new Ledger([node("n1", res(2, Gi))], [allocation("n1", res(3, 2 * Gi))]);
    assert.deepEqual(ledger.free("n1"), res(0));
    assert.equal(ledger.fits("n1", res(0)), true);
    assert.equal(ledger.lacking("n1", res(0.001)), "cpu");
  });

  it("caps gpu capacity at the distinct device indices", () => {
    const ledger = new Ledger([node("g", res(1, Gi, 4), { gpuIndices: [3, 3, 1, -1] })], []);
    assert.deepEqual(ledger.capacity("g"), res(1, Gi, 2));
  });

  it("takes lowest free indices and rolls back to a mark exactly", () => {
    const ledger = new Ledger([node("g", res(1, Gi, 4))], [allocation("g", res(0.1, 0, 1), [0])]);
    const before = ledger.free("g");
    const mark = ledger.mark();
    assert.deepEqual(ledger.take("g", res(0.3, 0, 2)), [1, 2]);
    assert.deepEqual(ledger.take("g", res(0.3, 0, 1)), [3]);
    assert.equal(ledger.fits("g", res(0, 0, 1)), false);
    assert.throws(() => ledger.take("g", res(0, 0, 1)), /does not fit/);
    ledger.rollback(mark);
    assert.deepEqual(ledger.free("g"), before);
    assert.deepEqual(ledger.take("g", res(0, 0, 3)), [1, 2, 3]);
  });
});
