// Failure injection (a): a node dies. Every process in the node's network
// namespace (its agent and the component it runs) is killed with SIGKILL.
// The master must mark the node down within its heartbeat TTL, place the job
// again on the surviving node, and the job must complete; at no time may two
// runs of the same component overlap.

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { overlaps, readRuns, startMarkerJob, waitEnded, waitJob } from "../support/failure.js";
import { netnsUnavailable } from "../support/netns.js";
import { NetnsCluster } from "../support/netns-cluster.js";
import { eventually, tempDir } from "../support/tmp.js";

const TTL_MS = 3000;
const INTERVAL_MS = 1000;

describe("failure: a node dies with its components", { skip: netnsUnavailable() ?? false }, () => {
  const work = tempDir("fail-node");
  let cluster: NetnsCluster | null = null;

  before(async () => {
    cluster = await NetnsCluster.start({
      name: "fail-node",
      nodes: 2,
      runtime: "process",
      heartbeatTtlMs: TTL_MS,
      heartbeatIntervalMs: INTERVAL_MS,
    });
  });

  after(async () => {
    await cluster?.destroy();
    work.remove();
  });

  test("the node is down within the TTL, the job moves to the other node and completes, no run overlaps", async (t) => {
    const c = cluster as NetnsCluster;
    const watch = c.admin().watch();
    const {
      job: submitted,
      markers,
      release,
      victim,
      other: survivor,
    } = await startMarkerJob(c, work.path, "survivor", 60_000);

    const killedAt = Date.now();
    const killed = await c.killNode(victim);
    assert.ok(killed.length >= 2, `the agent and its component were killed (pids ${killed.join(", ")})`);

    const down = await eventually(
      () =>
        watch.seen.find((e) => e.event.kind === "node" && e.event.node === victim && e.event.state === "down") ?? null,
      TTL_MS + 10_000,
      `a node-down event for ${victim}`,
    );
    const downAfterMs = down.atMs - killedAt;
    t.diagnostic(`${victim} marked down ${downAfterMs} ms after the kill (TTL ${TTL_MS} ms)`);
    assert.ok(downAfterMs <= TTL_MS + 1000, `down after ${downAfterMs} ms; the TTL is ${TTL_MS} ms (+1 s slack)`);
    assert.ok(
      downAfterMs >= TTL_MS - INTERVAL_MS - 100,
      `down after only ${downAfterMs} ms: earlier than a TTL of silence`,
    );
    const listed = (await c.nodes()).find((n) => n.name === victim);
    assert.equal(listed?.state, "down", "node list shows the dead node as down");

    const moved = await waitJob(
      c,
      "survivor",
      (j) => {
        const w = j.components[0];
        return w?.state === "running" && w.nodeName === survivor && w;
      },
      20_000,
      `w-0 to run again on ${survivor}`,
    );
    t.diagnostic(`w-0 running again on ${moved.nodeName} ${Date.now() - killedAt} ms after the kill`);
    await eventually(() => readRuns(markers, submitted.id).some((r) => r.node === survivor), 10_000, "the new run");

    writeFileSync(release, "");
    const done = await waitEnded(c, "survivor", 20_000);
    watch.close();
    assert.equal(done.state, "succeeded", `job ended ${done.state}: ${done.reason}`);
    assert.equal(done.id, submitted.id, "the same job, not a new submission");
    assert.equal(done.components[0]?.nodeName, survivor);

    const runs = readRuns(markers, submitted.id);
    t.diagnostic(`runs: ${JSON.stringify(runs)}`);
    assert.deepEqual(
      runs.map((r) => [r.node, r.ended]),
      [
        [victim, null],
        [survivor, "released"],
      ],
      "one run on the dead node (killed, never ended), then one on the survivor that completed",
    );
    assert.deepEqual(overlaps(runs), [], "no two runs of w-0 overlapped");
    assert.ok(existsSync(release));
  });
});
