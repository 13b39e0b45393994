import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import { type JobOut, loadMaroProto, type MasterClient } from "@maro/proto";
import { testMasterOptions } from "../../../test/support/master.js";
import { call, jobSpec } from "../../../test/support/master-client.js";
import { makeTestPki } from "../../../test/support/pki.js";
import { tempDir } from "../../../test/support/tmp.js";
import { type RunningMaster, startMaster } from "../src/index.js";

interface ScheduleResponse {
  name: string;
  jobs: JobOut[];
}

describe("schedules: several jobs from one set of components", () => {
  const dir = tempDir("schedule");
  let master: RunningMaster;
  let client: MasterClient;

  before(async () => {
    const pki = await makeTestPki(dir.path, "sched");
    master = await startMaster(testMasterOptions("sched", dir.path, join(dir.path, "tls")));
    client = new (loadMaroProto().maro.v1.Master)(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
  });

  after(async () => {
    client.close();
    await master.stop();
    dir.remove();
  });

  const template = jobSpec("", { learner: { cpu: 100 }, actor: { cpu: 100, num: 2 } });

  test("start queues one job per name with the template's components, marked with the schedule", async () => {
    const res = await call<ScheduleResponse>(client, "StartSchedule", {
      name: "sweep",
      jobNames: ["sweep-a", "sweep-b", "sweep-c"],
      template,
    });
    assert.deepEqual(
      res.jobs.map((j) => j.name),
      ["sweep-a", "sweep-b", "sweep-c"],
    );
    for (const j of res.jobs) {
      assert.equal(j.spec?.schedule, "sweep");
      assert.deepEqual(
        j.components.map((c) => c.id),
        ["learner-0", "actor-0", "actor-1"],
      );
    }
  });

  test("a schedule whose names clash with unfinished jobs is refused whole", async () => {
    await assert.rejects(
      call(client, "StartSchedule", { name: "again", jobNames: ["fresh", "sweep-b"], template }),
      (err: ServiceError) => {
        assert.equal(err.code, 6);
        assert.match(err.details, /job "sweep-b" is pending; stop it first/);
        return true;
      },
    );
    const jobs = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    assert.ok(!jobs.jobs.some((j) => j.name === "fresh"), "no job of the refused schedule was queued");
  });

  test("bad names are reported together, each with its place", async () => {
    await assert.rejects(
      call(client, "StartSchedule", { name: "Bad_Name", jobNames: ["ok-1", "ok-1", "NO"], template }),
      (err: ServiceError) => {
        assert.equal(err.code, 3);
        assert.match(err.details, /name: "Bad_Name" is not a DNS label/);
        assert.match(err.details, /job_names\[1\]: "ok-1" is listed twice/);
        return true;
      },
    );
  });

  test("stop ends every unfinished job of the schedule and no other", async () => {
    await call(client, "SubmitJob", { spec: jobSpec("bystander", { w: { cpu: 100 } }) });
    const res = await call<ScheduleResponse>(client, "StopSchedule", { name: "sweep" });
    assert.deepEqual(res.jobs.map((j) => j.name).sort(), ["sweep-a", "sweep-b", "sweep-c"]);
    const jobs = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    for (const j of jobs.jobs.filter((x) => x.spec?.schedule === "sweep")) assert.equal(j.state, "killed");
    assert.equal(jobs.jobs.find((j) => j.name === "bystander")?.state, "pending");
  });

  test("stopping an unknown schedule says so", async () => {
    await assert.rejects(call(client, "StopSchedule", { name: "nope" }), (err: ServiceError) => {
      assert.equal(err.code, 5);
      assert.match(err.details, /no job was started by schedule "nope"/);
      return true;
    });
  });
});
