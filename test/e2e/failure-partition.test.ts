// Failure injection (b): a network partition. Inside the namespace of the
// node running the job, iptables drops all traffic to and from the master;
// the agent and its component keep running, cut off. The master must mark
// the node down and place the component on the other node; once the rule is
// deleted and the node is back, only one instance of the component may be
// alive: the master stops the stale one on the returning node.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { envOf, processesWith, readRuns, startMarkerJob, waitEnded, waitJob } from "../support/failure.js";
import { netnsUnavailable } from "../support/netns.js";
import { NetnsCluster } from "../support/netns-cluster.js";
import { eventually, sleep, tempDir } from "../support/tmp.js";

const TTL_MS = 3000;

describe("failure: a node is partitioned from the master, then heals", { skip: netnsUnavailable() ?? false }, () => {
  const work = tempDir("fail-partition");
  let cluster: NetnsCluster | null = null;

  before(async () => {
    cluster = await NetnsCluster.start({ name: "fail-part", nodes: 2, runtime: "process", heartbeatTtlMs: TTL_MS });
  });

  after(async () => {
    for (const agent of cluster?.agents.values() ?? []) agent.host.heal();
    await cluster?.destroy();
    work.remove();
  });

  test("after the partition heals only one instance of the component is alive, and the job completes", async (t) => {
    const c = cluster as NetnsCluster;
    const watch = c.admin().watch();
    const { job, markers, release, victim, other } = await startMarkerJob(c, work.path, "split", 90_000);
    const host = c.agents.get(victim)?.host;
    assert.ok(host);
    const live = () => processesWith({ JOB_ID: job.id, COMPONENT_ID: "w-0" }, "node");
    await eventually(() => live().length === 1, 10_000, "w-0's process");

    const cutAt = Date.now();
    host.partitionFrom(c.net.hostIp);
    const down = await eventually(
      () => watch.seen.find((e) => e.event.kind === "node" && e.event.node === victim && e.event.state === "down"),
      TTL_MS + 10_000,
      `${victim} to be marked down`,
    );
    t.diagnostic(`${victim} marked down ${down.atMs - cutAt} ms after the partition`);
    const moved = await waitJob(
      c,
      "split",
      (j) => j.components[0]?.state === "running" && j.components[0]?.nodeName === other && j.components[0],
      20_000,
      `w-0 to be placed again on ${other}`,
    );
    t.diagnostic(`w-0 running on ${moved.nodeName} ${Date.now() - cutAt} ms after the partition`);
    const during = live().map((pid) => envOf(pid, "NODE_NAME"));
    t.diagnostic(`instances alive during the partition: ${during.join(", ")}`);

    host.heal();
    const healedAt = Date.now();
    await c.waitReady([victim], 30_000);
    t.diagnostic(`${victim} ready again ${Date.now() - healedAt} ms after the heal`);
    const single = await eventually(
      () => {
        const pids = live();
        return pids.length === 1 ? pids : null;
      },
      15_000,
      "a single live instance of w-0 after the heal",
    ).catch((err: Error) => {
      throw new Error(`${err.message}; alive: ${live().map((p) => `${p} on ${envOf(p, "NODE_NAME")}`)}`);
    });
    t.diagnostic(`single instance ${Date.now() - healedAt} ms after the heal`);
    const onNode = envOf(single[0] as number, "NODE_NAME");
    const now = await waitJob(c, "split", (j) => j.components[0], 5000, "the job");
    assert.equal(now.state, "running", "the component is still running (the job was not failed by the partition)");
    assert.equal(onNode, now.nodeName, "the live instance is the one the master records");
    // It stays that way: the stale instance is not started again.
    await sleep(2000);
    assert.equal(live().length, 1, "still a single instance 2 s later");

    writeFileSync(release, "");
    const done = await waitEnded(c, "split", 20_000);
    watch.close();
    assert.equal(done.state, "succeeded", `job ended ${done.state}: ${done.reason}`);
    const runs = readRuns(markers, job.id);
    t.diagnostic(`runs: ${JSON.stringify(runs)}`);
    const stale = runs.find((r) => r.node === victim);
    assert.ok(stale, "the first run was on the partitioned node");
    assert.notEqual(stale.ended, "released", "the stale run did not go on to complete the work");
    assert.equal(live().length, 0, "nothing of the job is left running");
  });
});
