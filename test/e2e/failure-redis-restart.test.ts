// Failure injection (e): the cluster's redis-server is killed with SIGKILL
// (its PID from its pidfile); the master, which runs it, starts it again with
// the same redis.conf (same port, password, AOF). The cluster must go on: a
// job submitted after the restart runs, the jobs from before are still
// listed, and what the master wrote after the restart is in Redis (a master
// restarted on top of it lists every job with its final state).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { listening } from "../support/cluster-files.js";
import { listJobs, submit, waitEnded, writeFile } from "../support/failure.js";
import { netnsUnavailable } from "../support/netns.js";
import { NetnsCluster } from "../support/netns-cluster.js";
import { eventually, sleep, tempDir } from "../support/tmp.js";

function redisRuns(pid: number): boolean {
  try {
    return (
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("redis-server") &&
      !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
    );
  } catch {
    return false;
  }
}

describe("failure: the cluster's Redis is killed and restarted", { skip: netnsUnavailable() ?? false }, () => {
  const work = tempDir("fail-redis");
  let cluster: NetnsCluster | null = null;

  before(async () => {
    cluster = await NetnsCluster.start({ name: "fail-redis", nodes: 1, runtime: "process" });
  });

  after(async () => {
    // destroy() stops the Redis named by the pidfile, which is the restarted one.
    await cluster?.destroy();
    work.remove();
  });

  const job = (name: string) =>
    writeFile(
      work.path,
      `${name}.yml`,
      `name: ${name}\ncomponents:\n  q:\n    resources: {cpu: 0.1, memory: 16m}\n    command: echo ${name} ran\n`,
    );

  test("a job submitted after the restart runs, and the earlier jobs are still listed", async (t) => {
    const c = cluster as NetnsCluster;
    const first = await submit(c, job("before-restart"));
    assert.equal((await waitEnded(c, "before-restart", 20_000)).state, "succeeded");
    const pid = c.redisPid();
    const conf = readFileSync(c.redisConf, "utf8");
    const port = Number(/^port (\d+)$/m.exec(conf)?.[1]);
    const aofDir = /^dir (.+)$/m.exec(conf)?.[1];
    assert.equal(aofDir, join(c.masterDataDir, "redis"), "Redis keeps its AOF in the master's data dir");
    assert.match(conf, /^appendfsync always$/m, "every acknowledged write is on disk");
    process.kill(pid, "SIGKILL");
    await eventually(() => !redisRuns(pid), 5000, "redis-server to die");
    const downAt = Date.now();
    // The master runs its Redis and starts it again, on the same port and AOF.
    await eventually(() => listening(c.net.hostIp, port), 10_000, "Redis to listen again");
    const now = await eventually(() => (redisRuns(c.redisPid()) ? c.redisPid() : null), 5000, "a live redis pid");
    t.diagnostic(`Redis down for ${Date.now() - downAt} ms; pid ${pid} → ${now} (restarted by the master)`);
    assert.notEqual(now, pid);

    const second = await submit(c, job("after-restart"));
    const ended = await waitEnded(c, "after-restart", 30_000);
    assert.equal(ended.state, "succeeded", `after-restart ended ${ended.state}: ${ended.reason}`);
    assert.match(ended.components[0]?.outputTail ?? "", /after-restart ran/);

    const listed = await listJobs(c);
    assert.deepEqual(
      listed.map((j) => [j.name, j.id, j.state]),
      [
        ["before-restart", first.id, "succeeded"],
        ["after-restart", second.id, "succeeded"],
      ],
    );
  });

  test("what the master wrote after the Redis restart is in Redis: a restarted master lists it", async () => {
    const c = cluster as NetnsCluster;
    const before = await listJobs(c);
    assert.equal(before.length, 2, "the previous test left two jobs");
    await sleep(1500);
    await c.killMaster();
    await c.startMaster();
    const after = await eventually(async () => listJobs(c), 10_000, "job list from the restarted master");
    assert.deepEqual(
      after.map((j) => [j.name, j.id, j.state]),
      before.map((j) => [j.name, j.id, j.state]),
    );
  });
});
