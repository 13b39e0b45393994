import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadDeployment } from "../src/spec/deployment.js";
import { loadJob } from "../src/spec/job.js";
import { loadSchedule } from "../src/spec/schedule.js";
import {
  DEPLOYMENT_TEMPLATE,
  JOB_TEMPLATE,
  SCHEDULE_TEMPLATE,
  TemplateExistsError,
  writeTemplates,
} from "../src/template/index.js";

const root = mkdtempSync(join(tmpdir(), "maro-template-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("writeTemplates", () => {
  it("writes deployment.yml, job.yml and schedule.yml into a new directory", () => {
    const dir = join(root, "new", "nested");
    const written = writeTemplates(dir);
    assert.deepEqual(written, [join(dir, "deployment.yml"), join(dir, "job.yml"), join(dir, "schedule.yml")]);
    assert.equal(readFileSync(join(dir, "deployment.yml"), "utf8"), DEPLOYMENT_TEMPLATE);
    assert.equal(readFileSync(join(dir, "job.yml"), "utf8"), JOB_TEMPLATE);
    assert.equal(readFileSync(join(dir, "schedule.yml"), "utf8"), SCHEDULE_TEMPLATE);
  });

  it("writes files that validate with the spec validators", () => {
    const dir = join(root, "valid");
    writeTemplates(dir);
    const deployment = loadDeployment(join(dir, "deployment.yml"));
    assert.equal(deployment.mode, "grass/local");
    assert.equal(deployment.runtime, "process");
    assert.deepEqual(
      deployment.nodes.map((n) => n.name),
      ["node-1", "node-2"],
    );
    for (const runtime of ["process", "docker"] as const) {
      const job = loadJob(join(dir, "job.yml"), { runtime });
      assert.equal(job.sourceDir, dir);
      assert.deepEqual(
        job.components.map((c) => [c.type, c.num]),
        [
          ["learner", 1],
          ["actor", 2],
        ],
      );
      assert.equal(job.priority, 0);
      const schedule = loadSchedule(join(dir, "schedule.yml"), { runtime });
      assert.equal(schedule.name, "sweep");
      assert.deepEqual(schedule.jobNames, ["sweep-1", "sweep-2"]);
      assert.deepEqual(
        schedule.template.components.map((c) => c.type),
        ["learner"],
      );
    }
  });

  it("uses MARO's field names and explains each field", () => {
    for (const field of [
      "allocation:",
      "metric:",
      "resources:",
      "num:",
      "command:",
      "image:",
      "target:",
      "priority:",
      "binpack",
      "constraints:",
      "spread_across: node",
    ]) {
      assert.ok(JOB_TEMPLATE.includes(field), field);
    }
    for (const field of ["mode:", "name:", "job_names:", "allocation:", "components:"]) {
      assert.ok(SCHEDULE_TEMPLATE.includes(field), field);
    }
    for (const field of ["mode:", "name:", "runtime:", "nodes:", "api_server:", "redis:", "socket:"]) {
      assert.ok(DEPLOYMENT_TEMPLATE.includes(field), field);
    }
    const uncommented = DEPLOYMENT_TEMPLATE.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
    assert.ok(uncommented.length > 0);
  });

  it("refuses to overwrite, naming the file and --force, and writes nothing", () => {
    const dir = join(root, "existing");
    writeTemplates(dir);
    writeFileSync(join(dir, "job.yml"), "mine");
    rmSync(join(dir, "deployment.yml"));
    rmSync(join(dir, "schedule.yml"));
    assert.throws(
      () => writeTemplates(dir),
      (error: unknown) => {
        assert.ok(error instanceof TemplateExistsError);
        assert.equal(error.message, `${join(dir, "job.yml")} already exists; pass --force to overwrite`);
        assert.deepEqual(error.files, [join(dir, "job.yml")]);
        return true;
      },
    );
    assert.equal(existsSync(join(dir, "deployment.yml")), false, "nothing written when refusing");
    assert.equal(readFileSync(join(dir, "job.yml"), "utf8"), "mine");
  });

  it("names every file that exists", () => {
    const dir = join(root, "both");
    writeTemplates(dir);
    assert.throws(
      () => writeTemplates(dir),
      /deployment\.yml, .*job\.yml and .*schedule\.yml already exist; pass --force/,
    );
    rmSync(join(dir, "job.yml"));
    assert.throws(() => writeTemplates(dir), /deployment\.yml and .*schedule\.yml already exist; pass --force/);
  });

  it("overwrites with force", () => {
    const dir = join(root, "forced");
    writeTemplates(dir);
    writeFileSync(join(dir, "job.yml"), "mine");
    writeTemplates(dir, { force: true });
    assert.equal(readFileSync(join(dir, "job.yml"), "utf8"), JOB_TEMPLATE);
  });
});
