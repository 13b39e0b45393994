import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatCpu, formatMemory, isDnsLabel, parseCpu, parseMemory, UnitError } from "../src/units.js";

const Ki = 1024;
const Mi = Ki * Ki;
const Gi = Mi * Ki;

function throwsUnit(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UnitError, `expected a UnitError, got ${String(error)}`);
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe("parseCpu", () => {
  it("reads cores and millicores", () => {
    const cases: Array<[string | number, number]> = [
      [1, 1000],
      [0.5, 500],
      ["2", 2000],
      ["500m", 500],
      ["1.5", 1500],
      [" 3 ", 3000],
      ["0.001", 1],
      ["1m", 1],
      [0, 0],
      ["1e3m", 1000],
      [64, 64000],
    ];
    for (const [input, millis] of cases) assert.equal(parseCpu(input), millis, `parseCpu(${JSON.stringify(input)})`);
  });

  it("refuses what is not a cpu amount, naming the value and the fix", () => {
    throwsUnit(() => parseCpu("lots"), '"lots" is not a cpu amount; use 2, 0.5 or 500m');
    throwsUnit(() => parseCpu(-1), "-1 is negative; use 2, 0.5 or 500m");
    throwsUnit(() => parseCpu("-0.5"), '"-0.5" is negative; use 2, 0.5 or 500m');
    throwsUnit(() => parseCpu(Number.NaN), /^NaN is not a cpu amount/);
    throwsUnit(() => parseCpu(Number.POSITIVE_INFINITY), /^Infinity is not a cpu amount/);
    throwsUnit(() => parseCpu("0.0005"), /^"0\.0005" is finer than a thousandth of a core/);
    throwsUnit(() => parseCpu(1.0001), /^1\.0001 is finer than a thousandth of a core/);
    throwsUnit(() => parseCpu("1.5m"), /is finer than a thousandth of a core/);
    throwsUnit(() => parseCpu("2Gi"), /^"2Gi" is not a cpu amount/);
    throwsUnit(() => parseCpu(""), /is not a cpu amount/);
    throwsUnit(() => parseCpu("."), /is not a cpu amount/);
    throwsUnit(() => parseCpu("1e999999999"), /out of range/);
    throwsUnit(() => parseCpu(1e300), /out of range/);
    throwsUnit(() => parseCpu("9".repeat(100)), /is not a cpu amount/);
  });
});

describe("parseMemory", () => {
  it("reads MARO's m, Kubernetes quantities and bare bytes", () => {
    const cases: Array<[string | number, number]> = [
      ["256m", 256 * Mi],
      ["2048m", 2048 * Mi],
      ["2g", 2 * Gi],
      ["512Mi", 512 * Mi],
      ["1Gi", Gi],
      ["1.5Gi", 1.5 * Gi],
      ["100Ki", 100 * Ki],
      ["1G", 1e9],
      ["2048M", 2.048e9],
      ["1k", 1000],
      ["0.5k", 500],
      ["1.1Mi", 1153434],
      ["1048576", Mi],
      [1048576, Mi],
      [1.5, 2],
      ["1e3", 1000],
      ["2P", 2e15],
      ["3T", 3e12],
      ["0", 0],
    ];
    for (const [input, bytes] of cases)
      assert.equal(parseMemory(input), bytes, `parseMemory(${JSON.stringify(input)})`);
  });

  it("refuses what is not a memory size, naming the value and the fix", () => {
    throwsUnit(() => parseMemory("lots"), '"lots" is not a memory size; use 2048m or 2Gi');
    throwsUnit(() => parseMemory("-1Gi"), '"-1Gi" is negative; use 2048m or 2Gi');
    throwsUnit(() => parseMemory(-5), "-5 is negative; use 2048m or 2Gi");
    throwsUnit(() => parseMemory("512MB"), '"512MB" is not a memory size; did you mean 512Mi? (use 2048m or 2Gi)');
    throwsUnit(() => parseMemory("2gb"), /did you mean 2Gi\?/);
    throwsUnit(() => parseMemory("4K"), /did you mean 4Ki\?/);
    throwsUnit(() => parseMemory("100b"), '"100b" is not a memory size; use 2048m or 2Gi');
    throwsUnit(() => parseMemory(Number.NaN), /^NaN is not a memory size/);
    throwsUnit(() => parseMemory("8Ei"), '"8Ei" is too large; the limit is 8191Ti');
    throwsUnit(() => parseMemory("1 Gi"), /is not a memory size/);
  });
});

describe("formatCpu", () => {
  it("prints cores, tenths or millicores", () => {
    assert.deepEqual([2000, 500, 250, 1500, 0, 1, 1250].map(formatCpu), [
      "2",
      "0.5",
      "250m",
      "1.5",
      "0",
      "1m",
      "1250m",
    ]);
  });

  it("refuses fractions and negatives", () => {
    throwsUnit(() => formatCpu(1.5), /not a number of millicores/);
    throwsUnit(() => formatCpu(-1), /not a number of millicores/);
  });
});

describe("formatMemory", () => {
  it("prints the shortest exact form", () => {
    assert.deepEqual([256 * Mi, 1.5 * Gi, 2 * Gi, 1e9, 100, 0, 1024, 1000, 2047 * Mi, 1.25 * Gi].map(formatMemory), [
      "256Mi",
      "1.5Gi",
      "2Gi",
      "1G",
      "100",
      "0",
      "1Ki",
      "1k",
      "2047Mi",
      "1.25Gi",
    ]);
  });

  it("refuses fractions and negatives", () => {
    throwsUnit(() => formatMemory(0.5), /not a number of bytes/);
    throwsUnit(() => formatMemory(-1), /not a number of bytes/);
  });
});

describe("round trips", () => {
  it("parseCpu(formatCpu(m)) === m", () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (millis) => parseCpu(formatCpu(millis)) === millis),
      { numRuns: 2000 },
    );
  });

  it("parseMemory(formatMemory(b)) === b", () => {
    const bytes = fc.oneof(
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.nat({ max: 8 * Ki }).map((n) => n * Mi),
      fc.nat({ max: 400 }).map((n) => n * 0.25 * Gi),
      fc.nat({ max: 1e6 }).map((n) => n * 1000),
    );
    fc.assert(
      fc.property(bytes, (b) => parseMemory(formatMemory(b)) === b),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but UnitError on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.double()), (input) => {
        for (const parse of [parseCpu, parseMemory]) {
          try {
            const result = parse(input);
            assert.ok(Number.isSafeInteger(result) && result >= 0);
          } catch (error) {
            assert.ok(error instanceof UnitError, String(error));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("isDnsLabel", () => {
  it("accepts RFC 1123 labels", () => {
    for (const ok of ["a", "demo", "my-cluster", "node-1", "0", "a".repeat(63), "1abc"]) {
      assert.equal(isDnsLabel(ok), true, ok);
    }
  });

  it("refuses everything else", () => {
    for (const bad of ["", "-a", "a-", "My", "a_b", "a.b", "a".repeat(64), "é", "a b", "a\n"]) {
      assert.equal(isDnsLabel(bad), false, JSON.stringify(bad));
    }
  });
});
