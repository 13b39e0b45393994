// Failure injection (d): kill -9 of the master in the middle of a job, then a
// restart with the same arguments. The job must complete, `job list` must
// show the same jobs with the same ids, `job logs` must have every line the
// components wrote exactly once, and the cluster's state must be intact (same
// cluster id, same nodes, the same Redis adopted, not a new one).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { json } from "../support/cli.js";
import { listJobs, submit, waitEnded, waitJob, writeFile } from "../support/failure.js";
import { netnsUnavailable } from "../support/netns.js";
import { NetnsCluster } from "../support/netns-cluster.js";
import { eventually, sleep, tempDir } from "../support/tmp.js";

const LINES = 100;

interface LogLineJson {
  component: string;
  line: string;
}

describe("failure: the master is killed mid-job and restarted", { skip: netnsUnavailable() ?? false }, () => {
  const work = tempDir("fail-master");
  let cluster: NetnsCluster | null = null;

  before(async () => {
    cluster = await NetnsCluster.start({ name: "fail-master", nodes: 2, runtime: "process" });
  });

  after(async () => {
    await cluster?.destroy();
    work.remove();
  });

  test("the job completes, job list is unchanged, no log line is lost, state is intact", async (t) => {
    const c = cluster as NetnsCluster;
    const quick = writeFile(
      work.path,
      "quick.yml",
      "name: earlier\ncomponents:\n  q:\n    resources: {cpu: 0.1, memory: 16m}\n    command: echo earlier\n",
    );
    await submit(c, quick);
    const earlier = await waitEnded(c, "earlier", 20_000);
    assert.equal(earlier.state, "succeeded");
    const chatty = writeFile(
      work.path,
      "chatty.yml",
      [
        "name: chatty",
        "components:",
        "  talker:",
        "    resources: {cpu: 0.5, memory: 32m}",
        "    num: 2",
        `    command: i=1; while [ $i -le ${LINES} ]; do echo "line $i of $COMPONENT_ID"; i=$((i+1)); sleep 0.05; done`,
        "",
      ].join("\n"),
    );
    await submit(c, chatty);
    await waitJob(c, "chatty", (j) => j.state === "running", 20_000, "chatty to run");
    const status = json<{ clusterId: string }>(await c.cli(["grass", "status", c.name, "-o", "json"]));
    const listedBefore = await listJobs(c);
    const redisBefore = c.redisPid();
    const nodesBefore = (await c.nodes()).map((n) => n.name).sort();
    await sleep(1000);

    const killedAt = Date.now();
    await c.killMaster();
    await sleep(1000);
    await c.startMaster();
    t.diagnostic(`master back ${Date.now() - killedAt} ms after the kill (1 s of it down on purpose)`);

    const done = await waitEnded(c, "chatty", 60_000);
    assert.equal(done.state, "succeeded", `chatty ended ${done.state}: ${done.reason}`);
    for (const x of done.components) assert.equal(x.restarts, 0, `${x.id} was not restarted`);

    const listedAfter = await listJobs(c);
    assert.deepEqual(
      listedAfter.map((j) => [j.name, j.id, j.submittedAtMs]),
      listedBefore.map((j) => [j.name, j.id, j.submittedAtMs]),
      "the same jobs with the same ids",
    );
    const earlierAfter = listedAfter.find((j) => j.name === "earlier");
    assert.deepEqual(
      earlierAfter,
      listedBefore.find((j) => j.name === "earlier"),
      "a finished job is unchanged",
    );

    const expected = done.components.flatMap((x) =>
      Array.from({ length: LINES }, (_, i) => `${x.id}|line ${i + 1} of ${x.id}`),
    );
    const logged = await eventually(
      async () => {
        const res = await c.cli(["grass", "job", "logs", c.name, "chatty", "-o", "json"]);
        const lines = res.stdout
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as LogLineJson)
          .map((l) => `${l.component}|${l.line}`);
        return lines.length >= expected.length ? lines : null;
      },
      20_000,
      `${expected.length} log lines`,
    ).catch(async (err: Error) => {
      const res = await c.cli(["grass", "job", "logs", c.name, "chatty", "-o", "json"]);
      const have = new Set(res.stdout.split("\n").filter(Boolean));
      throw new Error(`${err.message}; have ${have.size} lines`);
    });
    const missing = expected.filter((l) => !logged.includes(l));
    assert.deepEqual(missing, [], "no line lost");
    assert.equal(logged.length, expected.length, "no line twice");
    for (const id of done.components.map((x) => x.id)) {
      const order = logged.filter((l) => l.startsWith(`${id}|`)).map((l) => Number(/line (\d+)/.exec(l)?.[1]));
      assert.deepEqual(
        order,
        Array.from({ length: LINES }, (_, i) => i + 1),
        `${id}'s lines in order`,
      );
    }

    const statusAfter = json<{ clusterId: string; nodesReady: number }>(
      await c.cli(["grass", "status", c.name, "-o", "json"]),
    );
    assert.equal(statusAfter.clusterId, status.clusterId, "the same cluster id");
    assert.equal(statusAfter.nodesReady, 2);
    assert.deepEqual((await c.nodes()).map((n) => n.name).sort(), nodesBefore);
    assert.equal(c.redisPid(), redisBefore, "the restarted master adopted the running Redis");
  });
});
