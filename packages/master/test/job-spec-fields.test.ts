// The master's own checks of the placement fields of a JobSpec (constraints,
// spread_across, priority, binpack/spread) and the defaults older records get
// when loaded.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobSpecOut } from "@maro/proto";
import { MaroError } from "../src/errors.js";
import { newJob, validateJobSpec } from "../src/jobs/new-job.js";
import { normaliseJob } from "../src/state/normalise.js";
import type { JobRecord } from "../src/state/records.js";

const MiB = 1024 * 1024;

function spec(overrides: Partial<JobSpecOut> = {}, component: Record<string, unknown> = {}): JobSpecOut {
  return {
    name: "a",
    allocationMode: "",
    allocationMetric: "",
    sourceDir: "",
    priority: 0,
    schedule: "",
    components: [
      {
        type: "worker",
        image: "",
        resources: { cpuMillis: 1000, memoryBytes: 64 * MiB, gpu: 0 },
        num: 1,
        mountTarget: "",
        command: ["true"],
        shell: false,
        restart: null,
        constraints: {},
        spreadAcross: "",
        ...component,
      },
    ],
    ...overrides,
  } as JobSpecOut;
}

function refusal(value: JobSpecOut): string {
  try {
    validateJobSpec(value);
  } catch (error) {
    assert.ok(error instanceof MaroError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    return error.message;
  }
  assert.fail("accepted");
}

describe("validateJobSpec: placement fields", () => {
  it("stores constraints, spread_across and priority; schedule is never taken from the wire", () => {
    const record = validateJobSpec(
      spec(
        { priority: -7, schedule: "forged", allocationMode: "binpack" },
        { constraints: { gpu_model: "A100", "example.com/rack": "r1" }, spreadAcross: "node" },
      ),
    );
    assert.equal(record.priority, -7);
    assert.equal(record.schedule, "");
    assert.equal(record.allocationMode, "binpack");
    assert.equal(record.allocationMetric, "cpu");
    assert.deepEqual(record.components[0]?.constraints, { gpu_model: "A100", "example.com/rack": "r1" });
    assert.equal(record.components[0]?.spreadAcross, "node");
  });

  it("defaults: no constraints, no spread, priority 0", () => {
    const bare = spec();
    const c = bare.components[0] as unknown as Record<string, unknown>;
    delete c.constraints;
    delete c.spreadAcross;
    delete (bare as unknown as Record<string, unknown>).priority;
    const record = validateJobSpec(bare);
    assert.deepEqual(record.components[0]?.constraints, {});
    assert.equal(record.components[0]?.spreadAcross, "");
    assert.equal(record.priority, 0);
  });

  it("refuses priorities outside int32 and non-integers", () => {
    for (const p of [2 ** 31, -(2 ** 31) - 1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assert.match(
        refusal(spec({ priority: p })),
        /^priority: must be a whole number from -2147483648 to 2147483647$/m,
      );
    }
    for (const p of [2 ** 31 - 1, -(2 ** 31)]) assert.equal(validateJobSpec(spec({ priority: p })).priority, p);
  });

  it("refuses hostile constraint maps: not a mapping, huge, non-string values, prototype keys", () => {
    assert.match(refusal(spec({}, { constraints: ["a"] })), /^components\.worker\.constraints: must be a mapping/m);
    const huge = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, "v"]));
    const message = refusal(spec({}, { constraints: huge }));
    assert.equal(message, "invalid job:\ncomponents.worker.constraints: 200000 constraints; at most 32");
    assert.match(refusal(spec({}, { constraints: { zone: 5 } })), /constraints\.zone: number is not a label value/);
    const proto = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, string>;
    const protoMessage = refusal(spec({}, { constraints: proto }));
    assert.match(protoMessage, /"__proto__" is not a label key/);
    assert.doesNotMatch(protoMessage, /constructor/);
  });

  it("lists at most 50 problems, then how many more", () => {
    const components = Array.from({ length: 80 }, (_, i) => ({
      ...spec().components[0],
      type: `w${i}`,
      spreadAcross: "rack",
    }));
    const message = refusal(spec({ components } as Partial<JobSpecOut>));
    assert.equal(message.split("\n").length, 1 + 50 + 1);
    assert.match(message, /\n… and 30 more problems$/);
  });

  it("gives the expanded job the spec's new fields", () => {
    const record = validateJobSpec(spec({ priority: 3 }, { constraints: { zone: "a" } }));
    const job = newJob(record, 1000);
    assert.equal(job.spec.priority, 3);
    assert.deepEqual(job.spec.components[0]?.constraints, { zone: "a" });
  });
});

describe("normaliseJob: records of an earlier master", () => {
  it("fills priority, schedule, constraints and spreadAcross with what the old record meant", () => {
    const old = {
      id: "11111111-2222-3333-4444-555555555555",
      name: "old",
      state: "running",
      reason: "",
      spec: {
        name: "old",
        allocationMode: "single-metric-balanced",
        allocationMetric: "cpu",
        sourceDir: "",
        components: [
          {
            restart: { policy: "never", max: 0, backoffMs: 0 },
            type: "w",
            image: "",
            resources: { cpuMillis: 1000, memoryBytes: 64 * MiB, gpu: 0 },
            num: 1,
            mountTarget: "",
            command: ["true"],
            shell: false,
          },
        ],
      },
      components: [],
      stopRequested: false,
      submittedAtMs: 1,
      scheduledAtMs: 2,
      finishedAtMs: 0,
    };
    const job = normaliseJob(JSON.parse(JSON.stringify(old)) as JobRecord);
    assert.equal(job.spec.priority, 0);
    assert.equal(job.spec.schedule, "");
    assert.deepEqual(job.spec.components[0]?.constraints, {});
    assert.equal(job.spec.components[0]?.spreadAcross, "");
  });

  it("keeps the fields of a current record", () => {
    const current = newJob(
      validateJobSpec(spec({ priority: 9 }, { constraints: { zone: "b" }, spreadAcross: "node" })),
      5,
    );
    current.spec.schedule = "sweep";
    const job = normaliseJob(JSON.parse(JSON.stringify(current)) as JobRecord);
    assert.deepEqual(
      [job.spec.priority, job.spec.schedule, job.spec.components[0]?.constraints, job.spec.components[0]?.spreadAcross],
      [9, "sweep", { zone: "b" }, "node"],
    );
  });
});
