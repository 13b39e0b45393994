import assert from "node:assert/strict";
import { cpus, totalmem } from "node:os";
import { describe, it } from "node:test";
import {
  ALL,
  applyReservation,
  fromSystemInformation,
  measureNode,
  type NodeResources,
  parseReservation,
  ReservationError,
} from "../src/resources/index.js";

const Mi = 1024 ** 2;
const Gi = 1024 ** 3;

function rejects(text: string, pattern: RegExp) {
  assert.throws(
    () => parseReservation(text),
    (err: unknown) => {
      assert.ok(err instanceof ReservationError, String(err));
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("parseReservation", () => {
  it("offers everything when empty or all", () => {
    assert.deepEqual(parseReservation(""), ALL);
    assert.deepEqual(parseReservation("  "), ALL);
    assert.deepEqual(parseReservation("cpu=all,memory=all,gpu=all"), ALL);
    assert.deepEqual(parseReservation("CPU=ALL"), ALL);
  });

  it("reads the MARO example, and fields left out mean all", () => {
    assert.deepEqual(parseReservation("cpu=2,memory=4096m,gpu=all"), {
      cpuMillis: 2000,
      memoryBytes: 4096 * Mi,
      gpus: "all",
    });
    assert.deepEqual(parseReservation(" memory = 4Gi , "), { cpuMillis: "all", memoryBytes: 4 * Gi, gpus: "all" });
    assert.deepEqual(parseReservation("gpu=0"), { cpuMillis: "all", memoryBytes: "all", gpus: 0 });
  });

  it("takes decimal cores and millicores for cpu", () => {
    assert.equal(parseReservation("cpu=1.5").cpuMillis, 1500);
    assert.equal(parseReservation("cpu=0.25").cpuMillis, 250);
    assert.equal(parseReservation("cpu=500m").cpuMillis, 500);
  });

  it("takes MARO's m (MiB) and Kubernetes quantities for memory", () => {
    const bytes = (text: string) => parseReservation(`memory=${text}`).memoryBytes;
    assert.equal(bytes("2048m"), 2048 * Mi);
    assert.equal(bytes("512Mi"), 512 * Mi);
    assert.equal(bytes("4Gi"), 4 * Gi);
    assert.equal(bytes("1Ti"), 1024 * Gi);
    assert.equal(bytes("64Ki"), 64 * 1024);
    assert.equal(bytes("4G"), 4e9);
    assert.equal(bytes("2M"), 2e6);
    assert.equal(bytes("3k"), 3000);
    assert.equal(bytes("1T"), 1e12);
    assert.equal(bytes("1048576"), Mi);
  });

  it("names the field and the fix in every error", () => {
    rejects("disk=10Gi", /unknown resource "disk".*cpu=, memory= and gpu=/);
    rejects("cpu", /"cpu" has no value: write cpu=all or cpu=2/);
    rejects("memory=", /"memory=" has no value/);
    rejects("cpu=2,cpu=3", /cpu is given twice/);
    rejects("cpu=two", /^cpu=two: .*not a cpu amount; use 2, 0\.5 or 500m/);
    rejects("cpu=-1", /^cpu=-1: .*negative/);
    rejects("cpu=0", /cpu=0 offers nothing: use cpu=all or cpu=2/);
    rejects("memory=4GB", /^memory=4GB: .*did you mean 4Gi/);
    rejects("memory=lots", /^memory=lots: .*not a memory size/);
    rejects("memory=0", /memory=0 offers nothing/);
    rejects("gpu=1.5", /gpu=1\.5: .*whole number of GPUs/);
    rejects("gpu=-1", /gpu=-1: .*whole number/);
  });
});

describe("applyReservation", () => {
  const node: NodeResources = {
    cpuMillis: 2000,
    memoryBytes: 8 * Gi,
    gpuIndices: [0, 1, 2, 3],
    gpuModels: ["A100", "A100", "A100", "A100"],
  };

  it("offers the whole node for all", () => {
    assert.deepEqual(applyReservation(node, ALL), { cpuMillis: 2000, memoryBytes: 8 * Gi, gpuIndices: [0, 1, 2, 3] });
  });

  it("offers what was asked, and the first N GPUs", () => {
    assert.deepEqual(applyReservation(node, parseReservation("cpu=1.5,memory=2048m,gpu=2")), {
      cpuMillis: 1500,
      memoryBytes: 2 * Gi,
      gpuIndices: [0, 1],
    });
    assert.deepEqual(applyReservation(node, parseReservation("gpu=0")).gpuIndices, []);
    assert.deepEqual(applyReservation(node, parseReservation("cpu=2,memory=8Gi,gpu=4")), {
      cpuMillis: 2000,
      memoryBytes: 8 * Gi,
      gpuIndices: [0, 1, 2, 3],
    });
  });

  it("refuses more than the node has, naming the field, what it has and the fix", () => {
    const refuses = (text: string, pattern: RegExp) =>
      assert.throws(
        () => applyReservation(node, parseReservation(text)),
        (err: unknown) => err instanceof ReservationError && pattern.test(err.message),
      );
    refuses("cpu=8", /^cpu=8 exceeds the 2 cores this node has: use cpu=all or at most cpu=2$/);
    refuses("cpu=2.5", /^cpu=2\.5 exceeds the 2 cores/);
    refuses("memory=16Gi", /^memory=16Gi exceeds the 8Gi \(8589934592 bytes\) this node has: .*memory=8192m$/);
    refuses("gpu=5", /^gpu=5 exceeds the 4 NVIDIA GPUs this node has: use gpu=all or at most gpu=4$/);
    assert.throws(
      () => applyReservation({ ...node, gpuIndices: [], gpuModels: [] }, parseReservation("gpu=1")),
      /gpu=1 exceeds the 0 NVIDIA GPUs/,
    );
  });
});

describe("measuring the node", () => {
  it("counts only NVIDIA controllers as GPUs, indexed 0..n-1", () => {
    const measured = fromSystemInformation(8, 32 * Gi, [
      { vendor: "Intel Corporation", model: "UHD Graphics 630" },
      { vendor: "NVIDIA Corporation", model: "Tesla V100-PCIE-16GB" },
      { vendor: "NVIDIA", model: "A100-SXM4-40GB" },
      { vendor: "Matrox Electronics Systems Ltd.", model: "G200eR2" },
    ]);
    assert.deepEqual(measured, {
      cpuMillis: 8000,
      memoryBytes: 32 * Gi,
      gpuIndices: [0, 1],
      gpuModels: ["Tesla V100-PCIE-16GB", "A100-SXM4-40GB"],
    });
  });

  it("measureNode() reports this machine's logical cores and memory", async () => {
    const measured = await measureNode();
    assert.equal(measured.cpuMillis, cpus().length * 1000);
    assert.equal(measured.memoryBytes, totalmem());
    assert.deepEqual(
      measured.gpuIndices,
      measured.gpuModels.map((_, i) => i),
    );
  });
});
