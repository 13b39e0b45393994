// examples/ring-recover on a local cluster: one component's process is
// killed with SIGKILL by its PID in the middle of the run. Its restart policy
// starts it again once; it re-registers, the others reconnect, and the job
// succeeds with every round delivered.

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { json, maro } from "../support/cli.js";
import { type JobJson, processesWith, TERMINAL } from "../support/failure.js";
import { eventually, sleep, tempDir } from "../support/tmp.js";

interface LogLineJson {
  component: string;
  line: string;
}

describe("examples/ring-recover survives a killed component", () => {
  const home = tempDir("fail-example");
  const cluster = "ring";

  before(async () => {
    const deployment = join(home.path, "deployment.yml");
    writeFileSync(deployment, `mode: grass/local\nname: ${cluster}\nruntime: process\nnodes: 2\n`);
    const created = await maro(home.path, ["grass", "create", deployment]);
    assert.equal(created.code, 0, created.stderr);
  });

  after(async () => {
    if (existsSync(join(home.path, "clusters", cluster))) await maro(home.path, ["grass", "delete", cluster]);
    home.remove();
  });

  const logs = async (): Promise<LogLineJson[]> =>
    (await maro(home.path, ["grass", "job", "logs", cluster, "ring-recover", "-o", "json"])).stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLineJson);

  test("kill -9 of one component mid-run: it is restarted once and the job succeeds", async (t) => {
    const started = await maro(home.path, [
      "grass",
      "job",
      "start",
      cluster,
      "examples/ring-recover/job.yml",
      "-o",
      "json",
    ]);
    assert.equal(started.code, 0, started.stderr);
    const job = json<JobJson>(started);
    const victim = "ring-1";
    await eventually(
      async () => (await logs()).some((l) => l.component === victim && /round 10 done/.test(l.line)),
      60_000,
      `${victim} to finish round 10`,
    );
    const pids = processesWith({ JOB_ID: job.id, COMPONENT_ID: victim }, "node");
    assert.equal(pids.length, 1, `one process runs ${victim}: ${pids.join(", ")}`);
    process.kill(pids[0] as number, "SIGKILL");
    const killedAt = Date.now();

    let done: JobJson | null = null;
    while (Date.now() - killedAt < 90_000) {
      done = json<JobJson>(await maro(home.path, ["grass", "job", "get", cluster, "ring-recover", "-o", "json"]));
      if (TERMINAL.has(done.state)) break;
      await sleep(500);
    }
    assert.ok(done);
    t.diagnostic(`ring-recover ${done.state} ${Date.now() - killedAt} ms after the kill`);
    assert.equal(done.state, "succeeded", `${done.reason}\n${JSON.stringify(done.components, null, 1)}`);
    const restarts = Object.fromEntries(done.components.map((c) => [c.id, c.restarts]));
    assert.deepEqual(restarts, { "ring-0": 0, [victim]: 1, "ring-2": 0 });

    const lines = await eventually(
      async () => {
        const all = await logs();
        return all.filter((l) => /completed 40 rounds/.test(l.line)).length >= 3 ? all : null;
      },
      15_000,
      "every component's last line",
    );
    const said = (id: string, re: RegExp) => lines.filter((l) => l.component === id && re.test(l.line));
    for (const id of ["ring-0", victim, "ring-2"])
      assert.equal(said(id, /completed 40 rounds/).length, 1, `${id} completed the rounds once`);
    assert.equal(said(victim, /restarted: resuming after round \d+ sent/).length, 1, "the restart resumed");
    assert.equal(said(victim, /listening at /).length, 2, "it registered an address on each start");
    assert.ok(
      said("ring-0", /reconnected to ring-1 at its new address/).length >= 1,
      "ring-0, which sends to ring-1, reconnected to its new address",
    );
  });
});
