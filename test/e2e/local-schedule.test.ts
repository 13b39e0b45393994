// Schedules, cordon/uncordon/drain and placement constraints against a real
// local cluster (process runtime, two nodes), driven through the built CLI.

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliResult, json, maro } from "../support/cli.js";
import { processesWithEnv } from "../support/cluster-files.js";
import { eventually, sleep, tempDir } from "../support/tmp.js";

const CLUSTER = "sched";

interface ComponentJson {
  id: string;
  state: string;
  nodeName: string;
}
interface JobJson {
  name: string;
  state: string;
  reason: string;
  attempt: number;
  spec: { schedule: string; priority: number };
  components: ComponentJson[];
  explanation: { filtered: Record<string, number> } | null;
}
interface NodeJson {
  name: string;
  state: string;
  cordoned: boolean;
}
interface ScheduleJson {
  name: string;
  jobs: JobJson[];
}

describe("schedules, cordon and drain on a local cluster", () => {
  const home = tempDir("e2e-schedule");
  const file = (name: string, body: string) => {
    const path = join(home.path, name);
    writeFileSync(path, body);
    return path;
  };
  const cli = (...args: string[]) => maro(home.path, ["grass", ...args]);
  const ok = (res: CliResult, what: string) => {
    assert.equal(res.code, 0, `${what}: exit ${res.code}\n${res.stdout}\n${res.stderr}`);
    return res;
  };
  const getJob = async (name: string) => json<JobJson>(ok(await cli("job", "get", CLUSTER, name, "-o", "json"), name));
  /** Polls `job get` until pred holds; on timeout the error shows the job as last seen. */
  const waitFor = async (name: string, pred: (j: JobJson) => boolean, what: string, timeoutMs = 60_000) => {
    let last: JobJson | undefined;
    try {
      return await eventually(
        async () => {
          last = await getJob(name);
          return pred(last) ? last : null;
        },
        timeoutMs,
        `${name}: ${what}`,
      );
    } catch (error) {
      const seen = last
        ? `${last.state} (${last.reason}); components ${last.components.map((c) => `${c.id} ${c.state} on ${c.nodeName || "-"}`).join(", ")}`
        : "never";
      throw new Error(`${String(error)}; last seen: ${seen}`);
    }
  };
  const sleeper = (name: string, extra = "", num = 1) =>
    file(
      `${name}.yml`,
      `name: ${name}\ncomponents:\n  w:\n    resources: {cpu: 0.1, memory: 32m}\n    num: ${num}\n    command: "sleep 300"\n${extra}`,
    );

  before(async () => {
    const deployment = file(
      "deployment.yml",
      `mode: grass/local\nname: ${CLUSTER}\nruntime: process\nnodes:\n  - name: node-1\n    resources: {cpu: 1, memory: 1Gi}\n  - name: node-2\n    resources: {cpu: 1, memory: 1Gi}\n`,
    );
    ok(await maro(home.path, ["grass", "create", deployment]), "create");
  });

  after(async () => {
    if (existsSync(join(home.path, "clusters", CLUSTER))) await cli("delete", CLUSTER);
    home.remove();
  });

  test("schedule start runs one job per name of the hello-peers example; each job names its schedule", async () => {
    const started = json<ScheduleJson>(
      ok(await cli("schedule", "start", CLUSTER, "examples/hello-peers/schedule.yml", "-o", "json"), "start"),
    );
    assert.equal(started.name, "hello-peers");
    assert.deepEqual(started.jobs.map((j) => j.name).sort(), ["hello-peers-1", "hello-peers-2"]);
    for (const j of started.jobs) {
      assert.equal(j.spec.schedule, "hello-peers");
      assert.equal(j.components.length, 3);
    }
    for (const name of ["hello-peers-1", "hello-peers-2"]) {
      const done = await waitFor(name, (j) => ["succeeded", "failed", "killed"].includes(j.state), "end", 90_000);
      assert.equal(done.state, "succeeded", `${name}: ${done.reason}`);
    }
    // Every job ended by itself: stopping the schedule stops nothing.
    const stopped = ok(await cli("schedule", "stop", CLUSTER, "hello-peers"), "stop");
    assert.match(stopped.stdout, /^schedule hello-peers: 0 jobs stopped$/m);
  });

  test("schedule stop stops the schedule's running jobs and prints them", async () => {
    const schedule = file(
      "sleepers.yml",
      `mode: grass/local\nname: sleepers\njob_names: [sleeper-1, sleeper-2]\npriority: 5\ncomponents:\n  w:\n    resources: {cpu: 0.1, memory: 32m}\n    command: "sleep 300"\n`,
    );
    const start = ok(await cli("schedule", "start", CLUSTER, schedule), "start");
    assert.match(start.stdout, /^schedule sleepers: 2 jobs started$/m);
    assert.match(start.stdout, /^NAME\s+STATE/m);
    assert.match(start.stdout, /^sleeper-1\s/m);
    for (const name of ["sleeper-1", "sleeper-2"]) {
      const running = await waitFor(name, (j) => j.state === "running", "running");
      assert.equal(running.spec.priority, 5);
    }
    const stopped = json<ScheduleJson>(ok(await cli("schedule", "stop", CLUSTER, "sleepers", "-o", "json"), "stop"));
    assert.equal(stopped.name, "sleepers");
    assert.deepEqual(stopped.jobs.map((j) => j.name).sort(), ["sleeper-1", "sleeper-2"]);
    for (const name of ["sleeper-1", "sleeper-2"]) await waitFor(name, (j) => j.state === "killed", "killed", 30_000);
    await eventually(
      () => processesWithEnv("JOB_NAME", "sleeper-1").length + processesWithEnv("JOB_NAME", "sleeper-2").length === 0,
      15_000,
      "the sleepers' processes to end",
    );
  });

  test("schedule stop of an unknown schedule and a bad schedule file: clear errors, exit 1 and 2", async () => {
    const unknown = await cli("schedule", "stop", CLUSTER, "no-such-schedule");
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /no-such-schedule.*\[SCHEDULE_NOT_FOUND\]/);
    const bad = await cli("schedule", "start", CLUSTER, file("bad.yml", "name: s\njob_names: [A]\ncomponents: {}\n"));
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /job_names\[0\]: "A" is not a valid job name/);
    assert.match(bad.stderr, /components: is empty/);
  });

  test("cordon keeps new replicas off a node, node list shows it, uncordon lets them back", async () => {
    const cordoned = json<NodeJson>(ok(await cli("node", "cordon", CLUSTER, "node-1", "-o", "json"), "cordon"));
    assert.deepEqual([cordoned.name, cordoned.cordoned], ["node-1", true]);
    const list = ok(await cli("node", "list", CLUSTER), "list").stdout;
    assert.match(list, /^node-1\s+ready,CORDONED\s/m);
    assert.match(list, /^node-2\s+ready\s/m);

    // Two replicas that may not share a node: with node-1 cordoned, they wait.
    ok(await cli("job", "start", CLUSTER, sleeper("pair", "    spread_across: node\n", 2)), "start pair");
    const pending = await waitFor(
      "pair",
      (j) => j.state === "pending" && j.explanation !== null,
      "pending with an explanation",
    );
    assert.deepEqual(Object.keys(pending.explanation?.filtered ?? {}).sort(), ["cordoned", "spread"]);
    await sleep(1000);
    assert.equal((await getJob("pair")).state, "pending", "still pending while node-1 is cordoned");

    const uncordoned = json<NodeJson>(ok(await cli("node", "uncordon", CLUSTER, "node-1", "-o", "json"), "uncordon"));
    assert.equal(uncordoned.cordoned, false);
    const running = await waitFor("pair", (j) => j.state === "running", "running after uncordon");
    assert.deepEqual(running.components.map((c) => c.nodeName).sort(), ["node-1", "node-2"]);
    ok(await cli("job", "stop", CLUSTER, "pair", "--wait"), "stop pair");
  });

  test("drain moves a running job to the other node and leaves the node cordoned", async () => {
    ok(await cli("job", "start", CLUSTER, sleeper("mover")), "start mover");
    const before = await waitFor("mover", (j) => j.state === "running", "running");
    const from = before.components[0]?.nodeName ?? "";
    const to = from === "node-1" ? "node-2" : "node-1";
    const drained = json<{ node: NodeJson; jobs: string[] }>(
      ok(await cli("node", "drain", CLUSTER, from, "-o", "json"), "drain"),
    );
    assert.equal(drained.node.name, from);
    assert.equal(drained.node.cordoned, true);
    assert.deepEqual(drained.jobs, ["mover"]);
    const moved = await waitFor(
      "mover",
      (j) => j.state === "running" && j.components[0]?.nodeName === to,
      `running on ${to}`,
    );
    assert.ok(moved.attempt >= 1, `attempt ${moved.attempt}`);
    const again = ok(await cli("node", "drain", CLUSTER, from), "drain again");
    assert.match(again.stdout, new RegExp(`^node ${from} drained \\(cordoned\\); no jobs to move$`, "m"));
    ok(await cli("node", "uncordon", CLUSTER, from), "uncordon");
    ok(await cli("job", "stop", CLUSTER, "mover", "--wait"), "stop mover");
  });

  test("cordon, uncordon and drain of an unknown node: exit 1 naming NODE_NOT_FOUND", async () => {
    for (const verb of ["cordon", "uncordon", "drain"]) {
      const res = await cli("node", verb, CLUSTER, "node-9");
      assert.equal(res.code, 1, `${verb}: ${res.stderr}`);
      assert.match(res.stderr, /node-9.*\[NODE_NOT_FOUND\]/, verb);
    }
  });

  test("a constraint no node's labels meet keeps the job pending, naming the constraint", async () => {
    ok(await cli("job", "start", CLUSTER, sleeper("picky", "    constraints: {zone: nowhere}\n")), "start picky");
    const pending = await waitFor("picky", (j) => j.state === "pending" && j.explanation !== null, "explained");
    assert.deepEqual(pending.explanation?.filtered, { "constraint zone": 2 });
    ok(await cli("job", "stop", CLUSTER, "picky"), "stop picky");
  });
});
