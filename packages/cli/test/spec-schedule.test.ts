// The schedule file of `maro grass schedule start`: MARO's fields (mode, name,
// job_names, allocation, components) plus ours (priority, constraints, ...),
// validated in one pass with YAML paths and file positions.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SpecError, type SpecIssue } from "../src/spec/errors.js";
import { loadSchedule, MAX_SCHEDULE_JOBS, validateSchedule } from "../src/spec/schedule.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const dir = mkdtempSync(join(tmpdir(), "maro-spec-schedule-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const Mi = 1024 * 1024;

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

// MARO's grass/local schedule example, with DNS-label names (MARO allowed any string).
const MARO_SCHEDULE = `mode: grass/local
name: my-schedule

job_names:
  - my-job-2
  - my-job-3
  - my-job-4

components:
  actor:
    image: maro/busybox:test
    resources:
      cpu: 2
      memory: 4096m
      gpu: 0
    num: 5
    command: "python /target/path/run_actor.py"
  learner:
    image: maro/busybox:test
    resources:
      cpu: 4
      memory: 8192m
      gpu: 0
    num: 1
    command: "python /target/path/run_learner.py"
`;

const W = { resources: { cpu: 1, memory: "64m" }, command: "true" };

describe("validateSchedule: valid files", () => {
  it("reads MARO's schedule file: one template for every job name", () => {
    const file = join(dir, "maro.yml");
    writeFileSync(file, MARO_SCHEDULE);
    const schedule = loadSchedule(file, { runtime: "docker" });
    assert.equal(schedule.name, "my-schedule");
    assert.deepEqual(schedule.jobNames, ["my-job-2", "my-job-3", "my-job-4"]);
    assert.equal(schedule.template.name, "my-schedule");
    assert.equal(schedule.template.sourceDir, dir);
    assert.equal(schedule.template.allocationMode, "single-metric-balanced");
    assert.equal(schedule.template.allocationMetric, "cpu");
    assert.equal(schedule.template.priority, 0);
    assert.deepEqual(
      schedule.template.components.map((c) => [c.type, c.num, c.resources.memoryBytes, c.command, c.shell]),
      [
        ["actor", 5, 4096 * Mi, ["python /target/path/run_actor.py"], true],
        ["learner", 1, 8192 * Mi, ["python /target/path/run_learner.py"], true],
      ],
    );
  });

  it("carries priority, allocation, constraints and spread_across into the template", () => {
    const schedule = validateSchedule(
      {
        name: "s",
        job_names: ["a"],
        priority: -3,
        allocation: { mode: "binpack" },
        components: { w: { ...W, constraints: { zone: "a" }, spread_across: "node" } },
      },
      { runtime: "process" },
    );
    assert.equal(schedule.template.priority, -3);
    assert.deepEqual([schedule.template.allocationMode, schedule.template.allocationMetric], ["binpack", ""]);
    assert.deepEqual(schedule.template.components[0]?.constraints, { zone: "a" });
    assert.equal(schedule.template.components[0]?.spreadAcross, "node");
  });

  it("validates the example examples/hello-peers/schedule.yml", () => {
    const schedule = loadSchedule(join(repo, "examples", "hello-peers", "schedule.yml"), { runtime: "process" });
    assert.equal(schedule.name, "hello-peers");
    assert.deepEqual(schedule.jobNames, ["hello-peers-1", "hello-peers-2"]);
    assert.equal(schedule.template.sourceDir, join(repo, "examples", "hello-peers"));
  });
});

describe("validateSchedule: problems", () => {
  it("reports every problem in one pass with its YAML path and line", () => {
    const file = join(dir, "bad.yml");
    writeFileSync(
      file,
      [
        "mode: grass/azure-ish",
        "name: My_Schedule",
        "job_names:",
        "  - ok-1",
        "  - Bad_Job",
        "  - ok-1",
        "  - 12",
        "priority: 1.5",
        "components:",
        "  w:",
        "    resources: {cpu: 1, memory: 64m}",
        "    command: 'true'",
        "    constraints: {zone: ''}",
        "",
      ].join("\n"),
    );
    const issues = issuesOf(() => loadSchedule(file, { runtime: "process" }));
    assert.match(messageAt(issues, "mode"), /is not a grass mode/);
    assert.match(
      messageAt(issues, "name"),
      /"My_Schedule" is not a valid schedule name .*did you mean "my-schedule"\?/,
    );
    assert.match(messageAt(issues, "job_names[1]"), /"Bad_Job" is not a valid job name/);
    assert.equal(messageAt(issues, "job_names[2]"), '"ok-1" is already job_names[0]; each job needs its own name');
    assert.match(messageAt(issues, "job_names[3]"), /expected a job name such as sweep-1, got 12 \(a number\)/);
    assert.match(messageAt(issues, "priority"), /expected a whole number/);
    assert.match(messageAt(issues, "components.w.constraints.zone"), /is empty/);
    assert.equal(issues.length, 7);
    const at = (path: string) => issues.find((i) => i.path === path)?.line;
    assert.deepEqual(
      [at("name"), at("job_names[1]"), at("job_names[2]"), at("components.w.constraints.zone")],
      [2, 5, 6, 13],
    );
  });

  it("requires job_names as a non-empty list, at most MAX_SCHEDULE_JOBS", () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /^required; a list of job names/],
      ["sweep-1", /^expected a list of job names .* got "sweep-1"/],
      [[], /^is an empty list/],
      [
        Array.from({ length: MAX_SCHEDULE_JOBS + 1 }, (_, i) => `j${i}`),
        /has 1001 names; a schedule starts at most 1000 jobs/,
      ],
    ];
    for (const [names, message] of cases) {
      const issues = issuesOf(() =>
        validateSchedule({ name: "s", job_names: names, components: { w: W } }, { runtime: "process" }),
      );
      assert.match(messageAt(issues, "job_names"), message);
    }
    const most = Array.from({ length: MAX_SCHEDULE_JOBS }, (_, i) => `j${i}`);
    assert.equal(
      validateSchedule({ name: "s", job_names: most, components: { w: W } }, { runtime: "process" }).jobNames.length,
      1000,
    );
  });

  it("needs components (and an image with the docker runtime), and knows MARO's field names", () => {
    const issues = issuesOf(() =>
      validateSchedule({ name: "s", job_name: ["a"], job_names: ["a"], component: {} }, { runtime: "docker" }),
    );
    assert.match(messageAt(issues, "components"), /^required; a mapping of component type/);
    assert.equal(messageAt(issues, "job_name"), "unknown field 'job_name'; did you mean 'job_names'?");
    assert.equal(messageAt(issues, "component"), "unknown field 'component'; did you mean 'components'?");
    const docker = issuesOf(() =>
      validateSchedule({ name: "s", job_names: ["a"], components: { w: W } }, { runtime: "docker" }),
    );
    assert.match(messageAt(docker, "components.w.image"), /required by the docker runtime/);
  });

  it("caps the replicas the schedule starts in all", () => {
    const big = { ...W, num: 1000 };
    const issues = issuesOf(() =>
      validateSchedule(
        { name: "s", job_names: Array.from({ length: 11 }, (_, i) => `j${i}`), components: { w: big } },
        { runtime: "process" },
      ),
    );
    assert.equal(
      messageAt(issues, "job_names"),
      "11 jobs of 1000 replicas each make 11000; a schedule may start at most 10000 replicas in all",
    );
    const ten = Array.from({ length: 10 }, (_, i) => `j${i}`);
    assert.equal(
      validateSchedule({ name: "s", job_names: ten, components: { w: big } }, { runtime: "process" }).jobNames.length,
      10,
    );
  });

  it("refuses a document that is not a mapping", () => {
    const issues = issuesOf(() => validateSchedule(["a"], { runtime: "process" }));
    assert.match(
      messageAt(issues, ""),
      /expected a mapping of fields \(name, job_names, components, …\) at the top, got a list/,
    );
  });
});
