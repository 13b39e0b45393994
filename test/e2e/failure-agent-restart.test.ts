// Failure injection (c): kill -9 of an agent on the docker runtime, not of
// its containers. The containers must keep running; the restarted agent (same
// arguments, inside the same namespace) must adopt them: the job stays
// running, the container is the same one (same id, same start time, never
// restarted), and the job then completes normally.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { repoRoot } from "../support/cli.js";
import { inspect, submit, testDockerHost, waitEnded, waitJob, writeFile } from "../support/failure.js";
import { netnsUnavailable } from "../support/netns.js";
import { NetnsCluster } from "../support/netns-cluster.js";
import { sleep, tempDir } from "../support/tmp.js";

describe("failure: an agent is killed while its containers run", { skip: netnsUnavailable() ?? false }, () => {
  const work = tempDir("fail-agent");
  const dockerHost = testDockerHost(repoRoot);
  let cluster: NetnsCluster | null = null;

  before(async () => {
    // A TTL long enough that a restarted agent is back before its node counts
    // as down even on a loaded 2-core machine (an agent starts in 1-7 s
    // here): this scenario is about adoption; a node that stays away past the
    // TTL is the partition scenario.
    cluster = await NetnsCluster.start({
      name: "fail-agent",
      nodes: 1,
      runtime: "docker",
      dockerHost,
      heartbeatTtlMs: 10_000,
    });
  });

  after(async () => {
    await cluster?.destroy();
    work.remove();
  });

  test("the containers keep running and the restarted agent adopts them; the job completes", async (t) => {
    const c = cluster as NetnsCluster;
    const shared = join(c.masterDataDir, "shared", "data");
    mkdirSync(shared, { recursive: true });
    const file = writeFile(
      work.path,
      "job.yml",
      [
        "name: adopted",
        "components:",
        "  w:",
        "    image: maro/busybox:test",
        "    resources: {cpu: 0.5, memory: 32m}",
        "    num: 2",
        "    mount: {target: /mnt/data}",
        // Bounded: gives up after 60 s.
        "    command: i=0; while [ ! -e /mnt/data/release ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo released $COMPONENT_ID",
        "",
      ].join("\n"),
    );
    const watch = c.admin().watch();
    await submit(c, file);
    const running = await waitJob(
      c,
      "adopted",
      (j) => j.state === "running" && j.components.every((x) => x.state === "running") && j.components,
      30_000,
      "both containers to run",
    );
    const before = new Map(running.map((x) => [x.containerName, inspect(dockerHost, x.containerName)]));
    for (const [name, info] of before) assert.equal(info.State.Running, true, `${name} runs before the kill`);

    const killedAt = Date.now();
    await c.killAgent("node-1");
    await sleep(500);
    for (const [name, info] of before) {
      const now = inspect(dockerHost, name);
      assert.equal(now.State.Running, true, `${name} still runs with its agent dead`);
      assert.equal(now.Id, info.Id);
    }

    c.startAgent("node-1");
    await c.waitReady(["node-1"], 20_000);
    const connected = watch.seen.filter((e) => e.event.kind === "node" && e.event.node === "node-1");
    t.diagnostic(`agent back ${Date.now() - killedAt} ms after the kill; node events: ${JSON.stringify(connected)}`);
    assert.ok(
      !connected.some((e) => e.event.state === "down"),
      "the node was never marked down (the agent came back within the TTL)",
    );
    // The master has the restarted agent's report: the same containers, still running.
    await sleep(1500);
    const after = await waitJob(c, "adopted", (j) => j, 5000, "the job");
    assert.equal(after.state, "running", `job is ${after.state}: ${after.reason}`);
    for (const x of after.components) {
      assert.equal(x.state, "running", `${x.id} is ${x.state}: ${x.message}`);
      assert.equal(x.restarts, 0, `${x.id} was not restarted`);
      const info = inspect(dockerHost, x.containerName);
      const was = before.get(x.containerName);
      assert.ok(was, `${x.containerName} is one of the containers from before the kill`);
      assert.equal(info.Id, was.Id, `${x.containerName} is the same container`);
      assert.equal(info.State.StartedAt, was.State.StartedAt, `${x.containerName} was not restarted`);
      assert.equal(info.RestartCount, 0);
    }

    writeFileSync(join(shared, "release"), "");
    const done = await waitEnded(c, "adopted", 30_000);
    watch.close();
    assert.equal(done.state, "succeeded", `job ended ${done.state}: ${done.reason}`);
    for (const x of done.components) {
      assert.equal(x.exitCode, 0);
      assert.match(x.outputTail, new RegExp(`released ${x.id}`), `${x.id}'s output reached the master`);
    }
  });
});
