import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import { type JobOut, loadMaroProto, type MasterClient, type NodeOut } from "@maro/proto";
import { Redis } from "ioredis";
import { ScriptedAgent } from "../../../test/support/fake-agent.js";
import { testMasterOptions } from "../../../test/support/master.js";
import { call, jobSpec } from "../../../test/support/master-client.js";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { eventually, sleep, tempDir } from "../../../test/support/tmp.js";
import { type RunningMaster, startMaster } from "../src/index.js";
import { type RunningRedis, startRedisServer } from "../src/state/redis-server.js";

const CLUSTER = "recover";
const TTL_MS = 1000;

describe("recovery: lost nodes, drains, cordons, Redis restarts", () => {
  const dir = tempDir("recovery");
  const options = testMasterOptions(CLUSTER, dir.path, join(dir.path, "tls"), { heartbeatTtlMs: TTL_MS });
  let master: RunningMaster;
  let client: MasterClient;
  let pki: TestPki;
  const agents: ScriptedAgent[] = [];

  const agent = async (nodeName: string, cpuMillis: number, extra: object = {}) => {
    const a = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert(nodeName)), {
      nodeName,
      clusterName: CLUSTER,
      allocatable: { cpuMillis, memoryBytes: 1024 ** 3, gpu: 0 },
      ...extra,
    });
    agents.push(a);
    await eventually(() => a.messages[0]?.body === "registered", 5000, `${nodeName} to register`);
    return a;
  };
  const getJob = (name: string) => call<JobOut>(client, "GetJob", { name });
  const startsOf = (a: ScriptedAgent, job: string) => a.starts.filter((s) => s.jobName === job);
  /** Reports every start of the job on the agent as running. */
  const runAll = (a: ScriptedAgent, job: string) => {
    for (const s of startsOf(a, job)) a.status({ containerName: s.containerName, state: "running" });
  };
  const exitAll = (a: ScriptedAgent, job: string, code = 0) => {
    for (const s of startsOf(a, job))
      a.status({ containerName: s.containerName, state: "exited", exitCode: code, hasExitCode: true });
  };

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(options);
    client = new (loadMaroProto().maro.v1.Master)(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
  });

  after(async () => {
    for (const a of agents) a.close();
    client.close();
    await master.stop();
    dir.remove();
  });

  test("a dead node's gang job runs again elsewhere within the TTL plus a second, with the same identities", async () => {
    const doomed = await agent("doomed", 2000);
    await call(client, "SubmitJob", { spec: jobSpec("gang", { w: { cpu: 900, num: 2 } }) });
    await eventually(() => startsOf(doomed, "gang").length === 2, 5000, "both replicas on the only node");
    runAll(doomed, "gang");
    await eventually(async () => (await getJob("gang")).state === "running", 5000, "running");
    const spare = await agent("spare", 2000);
    doomed.close(); // the node dies: stream gone, no heartbeats
    const died = Date.now();
    await eventually(() => startsOf(spare, "gang").length === 2, 5000, "the job to start on the spare node");
    const movedAfter = Date.now() - died;
    assert.ok(movedAfter <= TTL_MS + 1000, `placed again ${movedAfter} ms after the node died`);
    const first = startsOf(doomed, "gang");
    const again = startsOf(spare, "gang");
    assert.deepEqual(again.map((s) => s.componentId).sort(), first.map((s) => s.componentId).sort());
    assert.deepEqual(
      again.map((s) => s.env.COMPONENT_INDEX).sort(),
      first.map((s) => s.env.COMPONENT_INDEX).sort(),
      "peers keep their indices",
    );
    for (const s of again) {
      assert.ok(!first.some((f) => f.containerName === s.containerName), "new placement, new container name");
      assert.match(s.containerName, /-a1$/);
    }
    const job = await getJob("gang");
    assert.equal(job.attempt, 1);
    const nodes = await call<{ nodes: NodeOut[] }>(client, "ListNodes", {});
    assert.equal(nodes.nodes.find((n) => n.name === "doomed")?.state, "down");
    runAll(spare, "gang");
    exitAll(spare, "gang");
    await eventually(async () => (await getJob("gang")).state === "succeeded", 5000, "the job completes");
    spare.close();
  });

  test("a node that comes back is told to stop what the master moved away; nothing else changes", async () => {
    const stale = startsOf(agents.find((a) => a.starts.some((s) => s.jobName === "gang")) as ScriptedAgent, "gang");
    const back = await agent("doomed", 2000, {
      containers: stale.map((s) => ({ containerName: s.containerName, state: "running", jobId: s.jobId })),
    });
    await eventually(
      () => stale.every((s) => back.stops.includes(s.containerName)),
      5000,
      "stale containers stopped on the returning node",
    );
    assert.equal((await getJob("gang")).state, "succeeded");
    const nodes = await call<{ nodes: NodeOut[] }>(client, "ListNodes", {});
    assert.equal(nodes.nodes.find((n) => n.name === "doomed")?.state, "ready");
    back.close();
  });

  test("cordon keeps new work off a node; drain moves a job only once its old replicas have stopped", async () => {
    await eventually(
      async () => {
        const nodes = await call<{ nodes: NodeOut[] }>(client, "ListNodes", {});
        return nodes.nodes.every((n) => n.state !== "ready");
      },
      5000,
      "earlier nodes to be down",
    );
    const one = await agent("one", 2000);
    const two = await agent("two", 2000);
    const cordoned = await call<NodeOut>(client, "CordonNode", { name: "two" });
    assert.equal(cordoned.cordoned, true);
    await call(client, "SubmitJob", { spec: jobSpec("mover", { w: { cpu: 500, num: 2 } }) });
    await eventually(() => startsOf(one, "mover").length === 2, 5000, "placed on the uncordoned node");
    assert.equal(startsOf(two, "mover").length, 0, "nothing on the cordoned node");
    runAll(one, "mover");
    await eventually(async () => (await getJob("mover")).state === "running", 5000, "running");
    await call(client, "UncordonNode", { name: "two" });
    const drained = await call<{ node: NodeOut; jobs: string[] }>(client, "DrainNode", { name: "one" });
    assert.deepEqual(drained.jobs, ["mover"]);
    assert.equal(drained.node.cordoned, true);
    const old = startsOf(one, "mover");
    await eventually(() => old.every((s) => one.stops.includes(s.containerName)), 5000, "old replicas told to stop");
    await sleep(300);
    assert.equal(startsOf(two, "mover").length, 0, "no new replica while an old one may still run");
    assert.match((await getJob("mover")).reason, /drained/);
    exitAll(one, "mover", 137);
    await eventually(() => startsOf(two, "mover").length === 2, 5000, "placed on the other node once stopped");
    runAll(two, "mover");
    await eventually(async () => (await getJob("mover")).state === "running", 5000, "running again");
    const nodes = await call<{ nodes: NodeOut[] }>(client, "ListNodes", {});
    assert.equal(nodes.nodes.find((n) => n.name === "one")?.cordoned, true);
    exitAll(two, "mover");
    await eventually(async () => (await getJob("mover")).state === "succeeded", 5000, "succeeded");
  });

  test("cordoning an unknown node says which nodes exist", async () => {
    await assert.rejects(call(client, "CordonNode", { name: "nowhere" }), (err: ServiceError) => {
      assert.equal(err.code, 5);
      assert.match(err.details, /node "nowhere" not found; see `maro grass node list`/);
      return true;
    });
  });

  test("the job's roster in Redis names each replica's node, address and container", async () => {
    const a = agents.find((x) => x.starts.some((s) => s.jobName === "mover") && !x.ended) as ScriptedAgent;
    const job = await getJob("mover");
    const start = startsOf(a, "mover").at(-1);
    assert.ok(start);
    const redis = new Redis({ host: master.redis.host, port: master.redis.port, password: master.redis.password });
    try {
      const roster = await redis.hgetall(start.env.JOB_ROSTER_KEY ?? "");
      assert.deepEqual(Object.keys(roster).sort(), ["w-0", "w-1"]);
      const entry = JSON.parse(roster["w-0"] ?? "{}");
      assert.equal(entry.node, "two");
      assert.equal(entry.address, "127.0.0.1");
      assert.equal(entry.container, job.components.find((c) => c.id === "w-0")?.containerName);
      assert.equal(entry.state, "succeeded");
    } finally {
      redis.disconnect();
    }
  });

  test("the master's own Redis killed: the master restarts it and loses nothing", async () => {
    const before = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    const pidFile = join(dir.path, "redis", "redis.pid");
    const oldPid = Number(readFileSync(pidFile, "utf8"));
    process.kill(oldPid, "SIGKILL");
    // The master restarts its Redis at once; a submit racing the restart
    // either fails with a reason or is accepted and kept.
    const accepted: string[] = [];
    for (let i = 0; i < 10; i++) {
      await call(client, "SubmitJob", { spec: jobSpec(`during-${i}`, { w: { cpu: 100 } }) }).then(
        () => accepted.push(`during-${i}`),
        (err: ServiceError) => assert.match(err.details, /Redis is unreachable/),
      );
      await sleep(30);
    }
    const newPid = await eventually(() => {
      const pid = Number(readFileSync(pidFile, "utf8"));
      return pid !== oldPid ? pid : null;
    }, 10_000);
    assert.ok(newPid > 0);
    await eventually(
      async () => {
        try {
          await call(client, "SubmitJob", { spec: jobSpec("after-redis", { w: { cpu: 100 } }) });
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      "a submit to succeed after the restart",
    );
    const afterRestart = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    const names = new Set(afterRestart.jobs.map((j) => j.name));
    for (const j of before.jobs) assert.ok(names.has(j.name), `${j.name} kept`);
    for (let i = 0; i < 10; i++)
      assert.equal(names.has(`during-${i}`), accepted.includes(`during-${i}`), `during-${i}: kept iff accepted`);
    const redis = new Redis({ host: master.redis.host, port: master.redis.port, password: master.redis.password });
    try {
      assert.ok(await redis.hexists(`maro:${CLUSTER}:jobs`, "after-redis"), "the new job is in the restarted Redis");
    } finally {
      redis.disconnect();
    }
  });
});

describe("an external Redis that goes away", () => {
  const dir = tempDir("ext-redis");
  let redis: RunningRedis;
  let master: RunningMaster;
  let client: MasterClient;

  before(async () => {
    const pki = await makeTestPki(dir.path, "ext");
    redis = await startRedisServer({ dir: join(dir.path, "own-redis"), bind: ["127.0.0.1"], port: 0 });
    master = await startMaster(
      testMasterOptions("ext", join(dir.path, "m"), join(dir.path, "tls"), { redisUrl: redis.url }),
    );
    client = new (loadMaroProto().maro.v1.Master)(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
  });

  after(async () => {
    client.close();
    await master.stop();
    await redis.stop();
    dir.remove();
  });

  test("changes are refused with a reason while it is down, nothing is half-stored, and work goes on after", async () => {
    await call(client, "SubmitJob", { spec: jobSpec("before", { w: { cpu: 100 } }) });
    const port = redis.port;
    const password = redis.password;
    await redis.stop();
    const refusal = await eventually(
      () =>
        call(client, "SubmitJob", { spec: jobSpec("while-down", { w: { cpu: 100 } }) }).then(
          () => null,
          (err: ServiceError) => err,
        ),
      5000,
      "a refusal",
    );
    assert.equal(refusal.code, 14, "UNAVAILABLE");
    assert.match(refusal.details, /Redis is unreachable; the master keeps reconnecting/);
    redis = await startRedisServer({ dir: join(dir.path, "own-redis"), bind: ["127.0.0.1"], port, password });
    await eventually(
      () => call(client, "SubmitJob", { spec: jobSpec("after", { w: { cpu: 100 } }) }).then(() => true),
      10_000,
      "a submit once Redis is back",
    );
    const jobs = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    assert.deepEqual(jobs.jobs.map((j) => j.name).sort(), ["after", "before"]);
  });
});
