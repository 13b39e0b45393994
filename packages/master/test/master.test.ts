import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import { type JobOut, type JobSpec, loadMaroProto, type MasterClient } from "@maro/proto";
import { Redis } from "ioredis";
import { ScriptedAgent } from "../../../test/support/fake-agent.js";
import { testMasterOptions } from "../../../test/support/master.js";
import { call, jobSpec } from "../../../test/support/master-client.js";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { eventually, tempDir } from "../../../test/support/tmp.js";
import { type MasterOptions, type RunningMaster, startMaster } from "../src/index.js";

const CLUSTER = "unit";

const spec = jobSpec;

describe("maro-master with a real Redis and agents on real gRPC streams", () => {
  const dir = tempDir("master");
  let master: RunningMaster;
  let client: MasterClient;
  const agents: ScriptedAgent[] = [];
  const options: MasterOptions = testMasterOptions(CLUSTER, dir.path, join(dir.path, "tls"));

  let pki: TestPki;
  const agent = async (nodeName: string, extra: object = {}) => {
    const a = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert(nodeName)), {
      nodeName,
      clusterName: CLUSTER,
      ...extra,
    });
    agents.push(a);
    await eventually(() => a.messages.length > 0, 5000, `${nodeName} to get an answer`);
    return a;
  };
  const getJob = (name: string) => call<JobOut>(client, "GetJob", { name });

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(options);
    const proto = loadMaroProto();
    client = new proto.maro.v1.Master(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
  });

  after(async () => {
    for (const a of agents) a.close();
    client.close();
    await master.stop();
    dir.remove();
  });

  test("an agent speaking another protocol version is refused with a reason", async () => {
    const old = await agent("old-node", { protocolVersion: 999 });
    assert.equal(old.messages[0]?.body, "refused");
    assert.equal(old.messages[0]?.refused?.code, "PROTOCOL_MISMATCH");
    assert.match(old.messages[0]?.refused?.message ?? "", /protocol 999/);
  });

  test("an agent for another cluster is refused", async () => {
    const stray = await agent("stray", { clusterName: "other" });
    assert.equal(stray.messages[0]?.refused?.code, "WRONG_CLUSTER");
  });

  test("Redis refuses clients without the generated password", async () => {
    const anonymous = new Redis({ host: master.redis.host, port: master.redis.port, lazyConnect: true });
    anonymous.on("error", () => {});
    await anonymous.connect().catch(() => {});
    await assert.rejects(anonymous.get("x"), /NOAUTH|Authentication required/);
    anonymous.disconnect();
  });

  test("a job runs through scheduled, running and succeeded as its components report", async () => {
    const a = await agent("node-a");
    assert.equal(a.messages[0]?.body, "registered");
    await call(client, "SubmitJob", { spec: spec("ok-job", { worker: { cpu: 500, num: 2 } }) });
    await eventually(() => a.starts.filter((s) => s.jobName === "ok-job").length === 2, 5000, "two starts");
    const starts = a.starts.filter((s) => s.jobName === "ok-job");
    const env = starts[0]?.env ?? {};
    for (const key of ["CLUSTER_ID", "CLUSTER_NAME", "NODE_ID", "NODE_NAME", "JOB_ID", "JOB_NAME", "COMPONENT_ID"])
      assert.ok(env[key], `env ${key} is set`);
    for (const key of [
      "COMPONENT_TYPE",
      "COMPONENT_INDEX",
      "CONTAINER_NAME",
      "REDIS_HOST",
      "REDIS_PORT",
      "REDIS_PASSWORD",
    ])
      assert.ok(env[key] !== undefined && env[key] !== "", `env ${key} is set`);
    assert.equal(env.REDIS_PORT, String(master.redis.port));
    assert.equal((await getJob("ok-job")).state, "scheduled");
    for (const s of starts) a.status({ containerName: s.containerName, state: "running" });
    await eventually(async () => (await getJob("ok-job")).state === "running", 5000, "running");
    for (const s of starts)
      a.status({ containerName: s.containerName, state: "exited", exitCode: 0, hasExitCode: true });
    await eventually(async () => (await getJob("ok-job")).state === "succeeded", 5000, "succeeded");
  });

  test("a component exiting 3 fails the job, names the component, and stops the others", async () => {
    const a = agents.find((x) => !x.ended && x.messages[0]?.body === "registered") as ScriptedAgent;
    await call(client, "SubmitJob", { spec: spec("bad-job", { learner: { cpu: 200 }, actor: { cpu: 200 } }) });
    await eventually(() => a.starts.filter((s) => s.jobName === "bad-job").length === 2, 5000, "starts");
    const [learner, actor] = ["learner-0", "actor-0"].map(
      (id) =>
        a.starts.find((s) => s.jobName === "bad-job" && s.componentId === id) as NonNullable<(typeof a.starts)[0]>,
    );
    a.status({ containerName: learner?.containerName, state: "running" });
    a.status({ containerName: actor?.containerName, state: "running" });
    a.status({
      containerName: learner?.containerName,
      state: "exited",
      exitCode: 3,
      hasExitCode: true,
      outputTail: "boom\n",
    });
    const failed = await eventually(async () => {
      const j = await getJob("bad-job");
      return j.state === "failed" ? j : null;
    });
    assert.match(failed.reason, /learner-0 exited with code 3/);
    const c = failed.components.find((x) => x.id === "learner-0");
    assert.equal(c?.exitCode, 3);
    assert.equal(c?.outputTail, "boom\n");
    await eventually(() => a.stops.includes(actor?.containerName ?? ""), 5000, "a stop for the other component");
    a.status({ containerName: actor?.containerName, state: "exited", exitCode: 143, hasExitCode: true });
    await eventually(
      async () => (await getJob("bad-job")).components.find((x) => x.id === "actor-0")?.state === "killed",
    );
    assert.equal((await getJob("bad-job")).state, "failed", "a failed job stays failed when the rest is stopped");
  });

  test("a job bigger than the cluster stays pending with the reason, then runs when capacity frees", async () => {
    const a = agents.find((x) => !x.ended && x.messages[0]?.body === "registered") as ScriptedAgent;
    await call(client, "SubmitJob", { spec: spec("hog", { big: { cpu: 2000 } }) });
    await eventually(() => a.starts.some((s) => s.jobName === "hog"), 5000, "hog start");
    const hog = a.starts.find((s) => s.jobName === "hog");
    await call(client, "SubmitJob", { spec: spec("waiter", { small: { cpu: 1000 } }) });
    const pending = await eventually(async () => {
      const j = await getJob("waiter");
      return j.state === "pending" && /needs/.test(j.reason) ? j : null;
    });
    assert.match(pending.reason, /small-0 needs 1 cpu/);
    assert.equal(
      a.starts.some((s) => s.jobName === "waiter"),
      false,
    );
    a.status({ containerName: hog?.containerName, state: "exited", exitCode: 0, hasExitCode: true });
    await eventually(() => a.starts.some((s) => s.jobName === "waiter"), 5000, "waiter to start after hog ended");
  });

  test("a bad job spec is refused with every problem and nothing is stored", async () => {
    const bad: JobSpec = {
      name: "Not_A_Label",
      components: [{ type: "x", resources: { cpuMillis: 0, memoryBytes: 0, gpu: 0 }, num: 0, command: [] }],
    };
    await assert.rejects(call(client, "SubmitJob", { spec: bad }), (err: ServiceError) => {
      assert.match(err.details, /name: .*not a DNS label/);
      assert.match(err.details, /resources.cpu: must be from 1m to/);
      assert.match(err.details, /num: must be a whole number from 1/);
      return true;
    });
    await assert.rejects(getJob("Not_A_Label"), /not found/);
  });

  test("stopping a job kills its components and ends it as killed", async () => {
    const a = agents.find((x) => !x.ended && x.messages[0]?.body === "registered") as ScriptedAgent;
    await call(client, "SubmitJob", { spec: spec("stoppable", { w: { cpu: 100 } }) });
    await eventually(() => a.starts.some((s) => s.jobName === "stoppable"), 5000, "start");
    const s = a.starts.find((x) => x.jobName === "stoppable");
    a.status({ containerName: s?.containerName, state: "running" });
    await eventually(async () => (await getJob("stoppable")).state === "running");
    await call(client, "StopJob", { name: "stoppable" });
    await eventually(() => a.stops.includes(s?.containerName ?? ""), 5000, "stop command");
    a.status({ containerName: s?.containerName, state: "exited", exitCode: 143, hasExitCode: true });
    const j = await eventually(async () => {
      const x = await getJob("stoppable");
      return x.state === "killed" ? x : null;
    });
    assert.equal(j.components[0]?.state, "killed");
  });

  test("restart policy: a failing replica restarts on its node with its identity, then fails past its budget", async () => {
    const a = agents.find((x) => !x.ended && x.messages[0]?.body === "registered") as ScriptedAgent;
    const restartSpec = spec("flaky", { w: { cpu: 100 } });
    const c0 = restartSpec.components?.[0];
    if (c0) c0.restart = { policy: "on-failure", max: 2, backoffMs: 50 };
    await call(client, "SubmitJob", { spec: restartSpec });
    const startsOf = () => a.starts.filter((s) => s.jobName === "flaky");
    for (let round = 1; round <= 3; round++) {
      await eventually(() => startsOf().length === round, 5000, `start number ${round}`);
      const s = startsOf()[round - 1];
      a.status({ containerName: s?.containerName, state: "running" });
      a.status({ containerName: s?.containerName, state: "exited", exitCode: 1, hasExitCode: true });
    }
    const [first, ...later] = startsOf();
    for (const s of later) {
      assert.equal(s.containerName, first?.containerName, "same container name");
      assert.deepEqual(s.env, first?.env, "same environment, so peers find it again");
    }
    const failed = await eventually(async () => {
      const j = await getJob("flaky");
      return j.state === "failed" ? j : null;
    });
    assert.equal(failed.components[0]?.restarts, 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(startsOf().length, 3, "no restart past the budget");
  });

  test("exit 64 is never restarted; exit 65 stops the whole job", async () => {
    const a = agents.find((x) => !x.ended && x.messages[0]?.body === "registered") as ScriptedAgent;
    const s64 = spec("no-retry", { w: { cpu: 100 } });
    if (s64.components?.[0]) s64.components[0].restart = { policy: "always", max: 5, backoffMs: 10 };
    await call(client, "SubmitJob", { spec: s64 });
    await eventually(() => a.starts.some((s) => s.jobName === "no-retry"), 5000, "start");
    const only = a.starts.find((s) => s.jobName === "no-retry");
    a.status({ containerName: only?.containerName, state: "exited", exitCode: 64, hasExitCode: true });
    await eventually(async () => (await getJob("no-retry")).state === "failed");
    assert.equal(a.starts.filter((s) => s.jobName === "no-retry").length, 1);

    await call(client, "SubmitJob", { spec: spec("stopper", { boss: { cpu: 100 }, crew: { cpu: 100, num: 2 } }) });
    await eventually(() => a.starts.filter((s) => s.jobName === "stopper").length === 3, 5000, "three starts");
    const starts = a.starts.filter((s) => s.jobName === "stopper");
    for (const s of starts) a.status({ containerName: s.containerName, state: "running" });
    const boss = starts.find((s) => s.componentType === "boss");
    a.status({ containerName: boss?.containerName, state: "exited", exitCode: 65, hasExitCode: true });
    for (const crew of starts.filter((s) => s.componentType === "crew")) {
      await eventually(() => a.stops.includes(crew.containerName), 5000, "the crew is stopped");
      a.status({ containerName: crew.containerName, state: "exited", exitCode: 143, hasExitCode: true });
    }
    const j = await eventually(async () => {
      const x = await getJob("stopper");
      return x.state === "killed" ? x : null;
    });
    assert.match(j.reason, /boss-0 asked to stop the job \(exit code 65\)/);
  });

  test("a node whose heartbeats stop is marked down and its job goes back to the queue", async () => {
    const frozen = await agent("node-frozen", { allocatable: { cpuMillis: 8000, memoryBytes: 1024 ** 3, gpu: 0 } });
    await call(client, "SubmitJob", { spec: spec("on-frozen", { w: { cpu: 6000 } }) });
    await eventually(() => frozen.starts.some((s) => s.jobName === "on-frozen"), 5000, "start on the big node");
    const s = frozen.starts.find((x) => x.jobName === "on-frozen");
    frozen.status({ containerName: s?.containerName, state: "running" });
    frozen.freeze();
    const t0 = Date.now();
    // No other node is big enough: the job waits in the queue, not failed.
    const j = await eventually(async () => {
      const x = await getJob("on-frozen");
      return x.state === "pending" && x.attempt === 1 ? x : null;
    }, 5000);
    assert.ok(Date.now() - t0 < 3000, "detected within a few TTLs");
    assert.match(j.reason, /node-frozen stopped sending heartbeats|needs/);
    assert.equal(j.components[0]?.state, "pending");
    const nodes = await call<{ nodes: { name: string; state: string }[] }>(client, "ListNodes", {});
    assert.equal(nodes.nodes.find((n) => n.name === "node-frozen")?.state, "down");
    await call(client, "StopJob", { name: "on-frozen" });
  });

  test("state survives a master restart: jobs are reloaded from Redis", async () => {
    const before = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    for (const a of agents) a.close();
    client.close();
    await master.stop();
    master = await startMaster(options);
    const proto = loadMaroProto();
    client = new proto.maro.v1.Master(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
    const afterRestart = await call<{ jobs: JobOut[] }>(client, "ListJobs", {});
    assert.deepEqual(
      afterRestart.jobs.map((j) => [j.name, j.state]),
      before.jobs.map((j) => [j.name, j.state]),
    );
  });
});
