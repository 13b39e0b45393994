import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatCpu, formatGpu, formatMemory, formatResources } from "../src/index.js";
import { Gi, Mi, res } from "./helpers.js";

describe("formatCpu", () => {
  it("shows cores with up to three decimals", () => {
    assert.deepEqual([4000, 500, 250, 1, 0, 1500].map(formatCpu), [
      "4 cpu",
      "0.5 cpu",
      "0.25 cpu",
      "0.001 cpu",
      "0 cpu",
      "1.5 cpu",
    ]);
  });

  it("marks a rounded value", () => {
    assert.equal(formatCpu(0.4), "~0 cpu");
  });
});

describe("formatMemory", () => {
  it("uses the largest binary unit that shows the value exactly", () => {
    assert.deepEqual([256 * Mi, 2 * Gi, 1.5 * Gi, 2047 * Mi, 1024 * Gi, 512, 0, 1500].map(formatMemory), [
      "256Mi",
      "2Gi",
      "1.5Gi",
      "2047Mi",
      "1Ti",
      "512B",
      "0B",
      "1500B",
    ]);
  });

  it("approximates in the largest unit when no unit is exact", () => {
    assert.equal(formatMemory(1_234_567_890), "~1.15Gi");
  });
});

describe("formatResources", () => {
  it("lists the non-zero parts", () => {
    assert.equal(formatResources(res(4, 256 * Mi)), "4 cpu, 256Mi memory");
    assert.equal(formatResources(res(0, 0, 2)), "2 gpu");
    assert.equal(formatResources(res(0)), "no resources");
    assert.equal(formatGpu(1), "1 gpu");
  });
});
