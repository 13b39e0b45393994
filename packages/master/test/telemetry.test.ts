// Samples, anomalies, heartbeats and stored events through a real master:
// agents on real gRPC streams, a real Redis, a clock the test moves for the
// history.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ServiceError } from "@grpc/grpc-js";
import {
  type ClusterEventOut,
  type JobOut,
  type JobSpec,
  type ListNodesResponseOut,
  loadMaroProto,
  type MasterClient,
} from "@maro/proto";
import { ScriptedAgent } from "../../../test/support/fake-agent.js";
import { testMasterOptions } from "../../../test/support/master.js";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { eventually, sleep, tempDir } from "../../../test/support/tmp.js";
import { type MasterOptions, type RunningMaster, startMaster } from "../src/index.js";

const CLUSTER = "telemetry";

function call<Res>(client: MasterClient, method: string, req: object): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: object, cb: (e: ServiceError | null, v: Res) => void) => void>)[
      method
    ];
    fn?.call(client, req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

interface EventsOut {
  events: ClusterEventOut[];
}
interface MetricsOut {
  node: string;
  samples: { timeMs: number; node: { cpuMillis: number; memoryUsedBytes: number } | null }[];
}

function spec(name: string, num: number): JobSpec {
  return {
    name,
    components: [
      {
        type: "worker",
        resources: { cpuMillis: 100, memoryBytes: 64 * 1024 * 1024, gpu: 0 },
        num,
        command: ["true"],
        shell: false,
      },
    ],
  };
}

const usage = (cpu: number, mem = 1024) => ({
  cpuMillis: cpu,
  cpuCapacityMillis: 2000,
  memoryUsedBytes: mem,
  memoryTotalBytes: 4 * 1024 ** 3,
  diskUsedBytes: 1,
  diskTotalBytes: 10,
  netRxBytesPerS: 0,
  netTxBytesPerS: 0,
  gpus: [],
});

describe("telemetry through a real master", () => {
  const dir = tempDir("telemetry-master");
  let master: RunningMaster;
  let client: MasterClient;
  let pki: TestPki;
  const agents: ScriptedAgent[] = [];
  const agentNames = new Map<ScriptedAgent, string>();
  // The telemetry clock (history buckets, event times); the test moves it.
  let clock = 1_800_000_000_000;
  const options: MasterOptions = testMasterOptions(CLUSTER, dir.path, join(dir.path, "tls"), {
    telemetry: { now: () => clock, flushIntervalMs: 100 },
  });

  /** A new agent; the ones before it disconnect first unless `keep`, so jobs land on this one. */
  const agent = async (nodeName: string, keep = false, cpuMillis = 2000) => {
    if (!keep) {
      for (const old of agents) old.close();
      const names = new Set(agents.map((x) => agentNames.get(x)));
      await eventually(
        async () => (await nodes()).every((n) => !names.has(n.name) || n.state !== "ready"),
        5000,
        "earlier agents to disconnect",
      );
      agents.length = 0;
    }
    const a = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert(nodeName)), {
      nodeName,
      clusterName: CLUSTER,
      allocatable: { cpuMillis, memoryBytes: 4 * 1024 ** 3, gpu: 0 },
    });
    agentNames.set(a, nodeName);
    agents.push(a);
    await eventually(() => a.messages[0]?.body === "registered", 5000, `${nodeName} to register`);
    return a;
  };
  const nodes = async () => (await call<ListNodesResponseOut>(client, "ListNodes", {})).nodes;
  const node = async (name: string) => (await nodes()).find((n) => n.name === name);
  const getJob = (name: string) => call<JobOut>(client, "GetJob", { name });
  const events = (req: object = {}) => call<EventsOut>(client, "ListEvents", req).then((r) => r.events);
  const connect = () => {
    const proto = loadMaroProto();
    client = new proto.maro.v1.Master(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
  };
  /** A running job of `num` workers on `a`; returns their container names. */
  const runningJob = async (a: ScriptedAgent, name: string, num: number) => {
    await call(client, "SubmitJob", { spec: spec(name, num) });
    const starts = await eventually(
      () => {
        const s = a.starts.filter((x) => x.jobName === name);
        return s.length === num ? s : null;
      },
      5000,
      `${name} to start`,
    );
    for (const s of starts) a.status({ containerName: s.containerName, state: "running" });
    await eventually(async () => (await getJob(name)).state === "running", 5000, `${name} running`);
    return starts.map((s) => s.containerName);
  };

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(options);
    connect();
  });

  after(async () => {
    for (const a of agents) a.close();
    client.close();
    await master.stop();
    dir.remove();
  });

  test("every heartbeat is answered with a pong on the same stream; the node's skew is kept", async () => {
    const a = await agent("pong-node");
    // The scripted agent's own heartbeats are answered.
    await eventually(() => a.messages.filter((m) => m.pong).length >= 3, 5000, "pongs to its heartbeats");
    a.freeze();
    const agentTime = clock + 5_000;
    a.send({ heartbeat: { timeMs: agentTime } });
    const pong = await eventually(
      () => a.messages.find((m) => m.pong && Number(m.pong.agentTimeMs) === agentTime)?.pong,
      5000,
      "the pong",
    );
    assert.equal(Number(pong.masterTimeMs), clock);
    await eventually(async () => Number((await node("pong-node"))?.clockSkewMs) === 5_000, 5000, "skew 5000 ms");
  });

  test("samples are deltas: changed components update, gone ones vanish, a full sample replaces all", async () => {
    const a = await agent("delta-node");
    const [c0, c1, c2] = await runningJob(a, "delta-job", 3);
    assert.ok(c0 && c1 && c2);
    const usageOf = async () =>
      Object.fromEntries((await getJob("delta-job")).components.map((c) => [c.containerName, c.usage]));

    a.sample({
      node: usage(700),
      full: true,
      components: [
        { containerName: c0, cpuMillis: 100, memoryBytes: 10 },
        { containerName: c1, cpuMillis: 200, memoryBytes: 20 },
        { containerName: c2, cpuMillis: 300, memoryBytes: 30 },
      ],
    });
    await eventually(async () => Number((await node("delta-node"))?.usage?.cpuMillis) === 700, 5000, "node usage");
    let u = await usageOf();
    assert.equal(Number(u[c1]?.cpuMillis), 200);

    // Only c1 changed; c2 ended. c0 keeps its last value.
    a.sample({ node: usage(800), components: [{ containerName: c1, cpuMillis: 250, memoryBytes: 25 }], gone: [c2] });
    await eventually(async () => Number((await node("delta-node"))?.usage?.cpuMillis) === 800, 5000, "second sample");
    u = await usageOf();
    assert.equal(Number(u[c0]?.cpuMillis), 100, "unchanged component keeps its usage");
    assert.equal(Number(u[c1]?.cpuMillis), 250, "changed component updated");
    assert.equal(Number(u[c1]?.memoryBytes), 25);
    assert.equal(u[c2], null, "gone component has no usage");

    // A full sample holds every component: c0 is not in it, so it is gone too.
    a.sample({ node: usage(900), full: true, components: [{ containerName: c1, cpuMillis: 260, memoryBytes: 26 }] });
    await eventually(async () => Number((await node("delta-node"))?.usage?.cpuMillis) === 900, 5000, "full sample");
    u = await usageOf();
    assert.equal(u[c0], null);
    assert.equal(Number(u[c1]?.cpuMillis), 260);

    // Another node cannot set usage for this node's containers.
    const other = await agent("other-node", true);
    other.sample({ node: usage(5), full: true, components: [{ containerName: c1, cpuMillis: 9999, memoryBytes: 1 }] });
    await eventually(async () => Number((await node("other-node"))?.usage?.cpuMillis) === 5, 5000, "other's sample");
    assert.equal(Number((await usageOf())[c1]?.cpuMillis), 260);
  });

  test("GetNodeMetrics: 10 s points on the master's clock, since_ms, and NODE_NOT_FOUND naming the fix", async () => {
    const a = await agent("metrics-node");
    const base = Math.ceil(clock / 10_000) * 10_000 + 1_000_000;
    const seen = async (cpu: number) =>
      eventually(async () => Number((await node("metrics-node"))?.usage?.cpuMillis) === cpu, 5000, `sample ${cpu}`);
    // Three buckets: (100, 300) → 200, (1000) → 1000, (50, 150) → 100.
    const plan: [number, number][] = [
      [0, 100],
      [4_000, 300],
      [10_000, 1000],
      [20_000, 50],
      [29_000, 150],
    ];
    for (const [offset, cpu] of plan) {
      clock = base + offset;
      // The sample's own time is ignored for bucketing: an agent's clock may be wrong.
      a.sample({ timeMs: 5, node: usage(cpu) });
      await seen(cpu);
    }
    const all = await call<MetricsOut>(client, "GetNodeMetrics", { name: "metrics-node" });
    assert.equal(all.node, "metrics-node");
    assert.deepEqual(
      all.samples.map((s) => [Number(s.timeMs) - base, Number(s.node?.cpuMillis)]),
      [
        [0, 200],
        [10_000, 1000],
        [20_000, 100],
      ],
    );
    const since = await call<MetricsOut>(client, "GetNodeMetrics", { name: "metrics-node", sinceMs: base + 10_000 });
    assert.equal(since.samples.length, 2);
    await assert.rejects(call(client, "GetNodeMetrics", { name: "no-such-node" }), (err: ServiceError) => {
      assert.equal(err.code, 5);
      assert.match(err.details, /node "no-such-node" not found; see `maro grass node list`/);
      assert.equal(err.metadata.get("maro-error-code")[0], "NODE_NOT_FOUND");
      return true;
    });
  });

  test("an anomaly is stored, listed, attached to its job and pushed to watchers", async () => {
    const a = await agent("anomaly-node");
    const [container] = await runningJob(a, "anomaly-job", 1);
    assert.ok(container);
    const watch = client.WatchEvents({ job: "" });
    const watched: ClusterEventOut[] = [];
    watch.on("data", (e: ClusterEventOut) => watched.push(e));
    watch.on("error", () => {});
    await sleep(200);
    a.anomaly({
      kind: "oom-killed",
      severity: "critical",
      // Claims another node: the master records the connection's node.
      node: "someone-else",
      containerName: container,
      message: "killed at 512 MiB",
    });
    const listed = await eventually(
      async () => {
        const evs = await events({ anomaliesOnly: true, job: "anomaly-job" });
        return evs.length === 1 ? evs[0] : null;
      },
      5000,
      "the anomaly in ListEvents",
    );
    assert.equal(listed.kind, "anomaly");
    assert.equal(listed.state, "oom-killed");
    assert.equal(listed.severity, "critical");
    assert.equal(listed.node, "anomaly-node");
    assert.equal(listed.component, "worker-0");
    assert.equal(listed.message, "killed at 512 MiB");
    const job = await getJob("anomaly-job");
    assert.equal(job.anomalies.length, 1);
    assert.equal(job.anomalies[0]?.state, "oom-killed");
    await eventually(() => watched.some((e) => e.kind === "anomaly" && e.severity === "critical"), 5000, "watchers");
    watch.cancel();

    // A node-level anomaly (no container) is fine too.
    a.anomaly({ kind: "disk-pressure", severity: "warning", message: "disk 95% full" });
    await eventually(
      async () =>
        (await events({ node: "anomaly-node", anomaliesOnly: true })).some((e) => e.state === "disk-pressure"),
      5000,
      "node anomaly",
    );
    // Job events are stored too, newest last.
    const jobEvents = await events({ job: "anomaly-job" });
    assert.deepEqual(
      jobEvents.filter((e) => e.kind === "job").map((e) => e.state),
      ["pending", "scheduled", "running"],
    );
    assert.equal(jobEvents.at(-1)?.kind, "anomaly");
    assert.equal((await events({ limit: 2 })).length, 2);
    await assert.rejects(call(client, "ListEvents", { limit: -3 }), /limit: -3/);
  });

  test("hostile anomalies change nothing and the master stays up", async () => {
    // The victim node fits one worker only, so the second job goes to the hostile node.
    const b = await agent("victim-node", false, 100);
    const [theirs] = await runningJob(b, "victim-job", 1);
    const a = await agent("hostile-node", true);
    const mine = await runningJob(a, "hostile-job", 1);
    assert.ok(theirs && mine[0]);
    const before = await events({ limit: 10_000, anomaliesOnly: true });
    const victimJob = await getJob("victim-job");
    const bad = [
      { kind: "made-up", severity: "critical" },
      { kind: "oom-killed", severity: "fatal" },
      { kind: "", severity: "" },
      { kind: "oom-killed", severity: "info", message: "x".repeat(3000) },
      { kind: "oom-killed", severity: "info", message: "clear\u001b[2J screen" },
      { kind: "oom-killed", severity: "info", containerName: "n".repeat(300) },
      { kind: "oom-killed", severity: "info", containerName: theirs },
      { kind: "oom-killed", severity: "info", containerName: "no-such-container" },
      { kind: "oom-killed", severity: "info", jobId: victimJob.id },
      { kind: "oom-killed", severity: "info", containerName: mine[0], jobId: victimJob.id },
      { kind: "oom-killed", severity: "info", componentId: "worker-0" },
      { kind: "oom-killed", severity: "info", timeMs: -1 },
      { kind: "oom-killed", severity: "info", timeMs: "9223372036854775807" },
      { kind: "oom-killed".repeat(1000), severity: "info" },
    ];
    for (const anomaly of bad) a.anomaly(anomaly);
    // Hostile samples and heartbeats on the same stream.
    a.sample({ node: { ...usage(1), cpuMillis: -5 } });
    a.sample({ node: usage(1), components: [{ containerName: "", cpuMillis: 1, memoryBytes: 1 }] });
    a.send({ heartbeat: { timeMs: "9223372036854775807" } });
    // A valid anomaly last: once it shows, everything before it was handled.
    a.anomaly({ kind: "cpu-saturation", severity: "info", message: "marker" });
    await eventually(
      async () => (await events({ anomaliesOnly: true })).some((e) => e.message === "marker"),
      5000,
      "the marker",
    );
    const after = await events({ limit: 10_000, anomaliesOnly: true });
    const added = after.slice(before.length);
    assert.deepEqual(
      added.map((e) => [e.kind, e.message]),
      [["anomaly", "marker"]],
      "only the valid anomaly was recorded",
    );
    assert.equal((await getJob("victim-job")).anomalies.length, 0);
    assert.equal((await getJob("hostile-job")).anomalies.length, 0);
    assert.equal(a.ended, false, "the agent's stream stays open");
    assert.equal((await node("hostile-node"))?.state, "ready");

    // A flood is rate limited: a node cannot wash the event log out.
    for (let i = 0; i < 500; i++) a.anomaly({ kind: "cpu-saturation", severity: "info", message: `flood ${i}` });
    a.sample({ node: usage(4242) });
    await eventually(
      async () => Number((await node("hostile-node"))?.usage?.cpuMillis) === 4242,
      5000,
      "flood handled",
    );
    const flood = (await events({ limit: 10_000, anomaliesOnly: true })).filter((e) => e.message.startsWith("flood"));
    assert.ok(flood.length > 0 && flood.length <= 25, `a burst of at most ~20 is kept, got ${flood.length}`);
  });

  test("stored events survive a master restart", async () => {
    const before = await events({ limit: 10_000 });
    assert.ok(before.some((e) => e.kind === "anomaly" && e.state === "oom-killed"));
    for (const a of agents) a.close();
    agents.length = 0;
    client.close();
    await master.stop();
    master = await startMaster(options);
    connect();
    const after = await events({ limit: 10_000 });
    assert.deepEqual(after.slice(0, before.length), before, "every stored event is back, in order");
    const job = await getJob("anomaly-job");
    assert.equal(job.anomalies[0]?.state, "oom-killed", "the job's anomalies are back");
  });
});
