// Placement fields of a job file: constraints, spread_across, priority and the
// all-resource allocation modes. Each problem is reported with its YAML path
// (and its line in the file), all in one pass.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatPath, SpecError, type SpecIssue } from "../src/spec/errors.js";
import { loadJob, validateJob } from "../src/spec/job.js";

const dir = mkdtempSync(join(tmpdir(), "maro-spec-placement-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const W = { resources: { cpu: 1, memory: "64m" }, command: "true" };

function job(component: Record<string, unknown>, top: Record<string, unknown> = {}) {
  return { name: "a", ...top, components: { w: { ...W, ...component } } };
}

function issuesOf(fn: () => unknown): readonly SpecIssue[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof SpecError, `expected a SpecError, got ${String(error)}`);
    return error.issues;
  }
  assert.fail("expected a SpecError");
}

function messageAt(issues: readonly SpecIssue[], path: string): string {
  const found = issues.find((issue) => issue.path === path);
  assert.ok(found, `no issue at ${path}; got ${issues.map((i) => `${i.path}: ${i.message}`).join(" | ")}`);
  return found.message;
}

describe("constraints", () => {
  it("accepts label keys with and without a DNS prefix and carries them to the wire spec", () => {
    const spec = validateJob(
      job({ constraints: { gpu_model: "A100", zone: "eu-west-1a", "example.com/rack": "r12", "x.y": "4.0" } }),
      { runtime: "process" },
    );
    assert.deepEqual(spec.components[0]?.constraints, {
      gpu_model: "A100",
      zone: "eu-west-1a",
      "example.com/rack": "r12",
      "x.y": "4.0",
    });
  });

  it("defaults to none, and an empty mapping is none", () => {
    assert.deepEqual(validateJob(job({}), { runtime: "process" }).components[0]?.constraints, {});
    assert.deepEqual(validateJob(job({ constraints: {} }), { runtime: "process" }).components[0]?.constraints, {});
  });

  it("reports every bad key and value at its own path in one pass", () => {
    const long = "v".repeat(64);
    const issues = issuesOf(() =>
      validateJob(
        job({
          constraints: {
            "has space": "a",
            "-zone": "a",
            "Example.com/rack": "a",
            "example.com/": "a",
            "/rack": "a",
            "a/b/c": "a",
            [`${"k".repeat(64)}`]: "a",
            rack: 7,
            ssd: true,
            empty: "",
            long,
            spaced: "A 100",
            nested: { a: 1 },
            nul: "a\u0000b",
          },
        }),
        { runtime: "process" },
      ),
    );
    for (const key of ["has space", "-zone", "Example.com/rack", "example.com/", "/rack", "a/b/c", "k".repeat(64)]) {
      assert.match(messageAt(issues, formatPath(["components", "w", "constraints", key])), /is not a valid label key/);
    }
    assert.equal(
      messageAt(issues, "components.w.constraints.rack"),
      'expected a label value, got 7 (a number); quote it: "7"',
    );
    assert.match(messageAt(issues, "components.w.constraints.ssd"), /quote it: "true"/);
    assert.match(messageAt(issues, "components.w.constraints.empty"), /^is empty; a label value is 1-63/);
    assert.match(messageAt(issues, "components.w.constraints.long"), /is not a valid label value/);
    assert.match(messageAt(issues, "components.w.constraints.spaced"), /"A 100" is not a valid label value/);
    assert.match(
      messageAt(issues, "components.w.constraints.nested"),
      /expected a label value such as A100, got a mapping/,
    );
    assert.match(messageAt(issues, "components.w.constraints.nul"), /is not a valid label value/);
    assert.equal(issues.length, 14);
  });

  it("refuses a list or a string instead of a mapping, and more than 32 entries", () => {
    const list = issuesOf(() => validateJob(job({ constraints: ["gpu_model=A100"] }), { runtime: "process" }));
    assert.match(
      messageAt(list, "components.w.constraints"),
      /expected a mapping of node label to value .* got a list/,
    );
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    const big = issuesOf(() => validateJob(job({ constraints: many }), { runtime: "process" }));
    assert.equal(messageAt(big, "components.w.constraints"), "has 33 constraints; at most 32 are allowed");
    const ok = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, "v"]));
    assert.equal(
      Object.keys(validateJob(job({ constraints: ok }), { runtime: "process" }).components[0]?.constraints ?? {})
        .length,
      32,
    );
  });

  it("names the file, line and column of a bad value", () => {
    const file = join(dir, "constraints.yml");
    writeFileSync(
      file,
      [
        "name: a",
        "components:",
        "  w:",
        "    resources: {cpu: 1, memory: 64m}",
        "    command: 'true'",
        "    constraints:",
        "      gpu_model: A100",
        "      example.com/rack: 'r 12'",
        "",
      ].join("\n"),
    );
    assert.throws(
      () => loadJob(file, { runtime: "process" }),
      (error: unknown) => {
        assert.ok(error instanceof SpecError);
        assert.match(
          error.message,
          new RegExp(
            `components\\.w\\.constraints\\["example\\.com/rack"\\]: "r 12" is not a valid label value .*\\(${file}:8:\\d+\\)`,
          ),
        );
        return true;
      },
    );
  });
});

describe("spread_across", () => {
  it("accepts node, and defaults to no rule", () => {
    assert.equal(
      validateJob(job({ spread_across: "node" }), { runtime: "process" }).components[0]?.spreadAcross,
      "node",
    );
    assert.equal(validateJob(job({}), { runtime: "process" }).components[0]?.spreadAcross, "");
  });

  it("refuses anything else, naming the only choice", () => {
    for (const value of ["rack", "Node", 1, ["node"]]) {
      const issues = issuesOf(() => validateJob(job({ spread_across: value }), { runtime: "process" }));
      assert.match(messageAt(issues, "components.w.spread_across"), /is not supported; the only choice is node/);
    }
  });

  it("suggests the field for a misspelling", () => {
    const issues = issuesOf(() => validateJob(job({ spread_accross: "node" }), { runtime: "process" }));
    assert.equal(
      messageAt(issues, "components.w.spread_accross"),
      "unknown field 'spread_accross'; did you mean 'spread_across'?",
    );
  });
});

describe("priority", () => {
  it("defaults to 0 and takes any int32", () => {
    assert.equal(validateJob(job({}), { runtime: "process" }).priority, 0);
    for (const p of [-(2 ** 31), -5, 0, 7, 2 ** 31 - 1]) {
      assert.equal(validateJob(job({}, { priority: p }), { runtime: "process" }).priority, p);
    }
  });

  it("refuses values past int32, fractions and strings", () => {
    for (const p of [2 ** 31, -(2 ** 31) - 1, 1.5, "high", 1e300]) {
      const issues = issuesOf(() => validateJob(job({}, { priority: p }), { runtime: "process" }));
      assert.match(messageAt(issues, "priority"), /^expected a whole number from -2147483648 to 2147483647, got /);
    }
  });
});

describe("allocation modes", () => {
  it("binpack and spread take no metric: the wire metric is empty", () => {
    for (const mode of ["binpack", "spread"]) {
      const spec = validateJob(job({}, { allocation: { mode } }), { runtime: "process" });
      assert.equal(spec.allocationMode, mode);
      assert.equal(spec.allocationMetric, "");
    }
  });

  it("refuses a metric given with binpack or spread, at allocation.metric", () => {
    for (const mode of ["binpack", "spread"]) {
      const issues = issuesOf(() =>
        validateJob(job({}, { allocation: { mode, metric: "cpu" } }), { runtime: "process" }),
      );
      assert.match(
        messageAt(issues, "allocation.metric"),
        new RegExp(`^${mode} weighs cpu, memory and gpu together and takes no metric; remove metric`),
      );
    }
  });

  it("keeps the single-metric modes and their metric default", () => {
    const spec = validateJob(job({}, { allocation: { mode: "single-metric-compacted" } }), { runtime: "process" });
    assert.equal(spec.allocationMetric, "cpu");
    const gpu = validateJob(job({}, { allocation: { metric: "gpu" } }), { runtime: "process" });
    assert.deepEqual([gpu.allocationMode, gpu.allocationMetric], ["single-metric-balanced", "gpu"]);
  });

  it("suggests a mode for a typo and still reports a bad metric", () => {
    const issues = issuesOf(() =>
      validateJob(job({}, { allocation: { mode: "binpak", metric: "disk" } }), { runtime: "process" }),
    );
    assert.match(
      messageAt(issues, "allocation.mode"),
      /"binpak" is not a valid allocation mode; .*\(did you mean binpack\?\)/,
    );
    assert.match(messageAt(issues, "allocation.metric"), /"disk" is not a valid allocation metric/);
  });
});

describe("one pass", () => {
  it("reports problems in every new field together with the old ones", () => {
    const issues = issuesOf(() =>
      validateJob(
        {
          name: "Bad_Name",
          priority: "urgent",
          allocation: { mode: "spread", metric: "memory" },
          components: { w: { ...W, num: 0, constraints: { "a b": "c" }, spread_across: "zone" } },
        },
        { runtime: "process" },
      ),
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      "allocation.metric",
      'components.w.constraints["a b"]',
      "components.w.num",
      "components.w.spread_across",
      "name",
      "priority",
    ]);
  });
});
