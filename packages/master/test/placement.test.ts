import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type JobOut, loadMaroProto, type MasterClient } from "@maro/proto";
import { ScriptedAgent } from "../../../test/support/fake-agent.js";
import { testMasterOptions } from "../../../test/support/master.js";
import { call, jobSpec } from "../../../test/support/master-client.js";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { eventually, tempDir } from "../../../test/support/tmp.js";
import { type RunningMaster, startMaster } from "../src/index.js";

const CLUSTER = "place";

describe("placement through the master: labels, constraints, spread, priority, explanations", () => {
  const dir = tempDir("placement");
  let master: RunningMaster;
  let client: MasterClient;
  let pki: TestPki;
  const agents: ScriptedAgent[] = [];
  const agent = async (nodeName: string, cpuMillis: number, labels: Record<string, string>) => {
    const a = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert(nodeName)), {
      nodeName,
      clusterName: CLUSTER,
      allocatable: { cpuMillis, memoryBytes: 1024 ** 3, gpu: 0 },
      labels,
    });
    agents.push(a);
    await eventually(() => a.messages[0]?.body === "registered", 5000, `${nodeName} to register`);
    return a;
  };
  const getJob = (name: string) => call<JobOut>(client, "GetJob", { name });
  /** Stops the job and answers for the agents: each stopped container exits. */
  const stop = async (name: string) => {
    await call(client, "StopJob", { name });
    const job = await getJob(name);
    for (const c of job.components) {
      const owner = agents.find((a) => a.starts.some((s) => s.containerName === c.containerName));
      owner?.status({ containerName: c.containerName, state: "exited", exitCode: 137, hasExitCode: true });
    }
    await eventually(async () => (await getJob(name)).state === "killed", 5000, `${name} to end`);
  };
  const nodesOf = (job: JobOut) => job.components.map((c) => c.nodeName).sort();

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(testMasterOptions(CLUSTER, dir.path, join(dir.path, "tls")));
    client = new (loadMaroProto().maro.v1.Master)(master.address, pki.creds(pki.admin)) as unknown as MasterClient;
    await agent("plain-1", 4000, {});
    await agent("plain-2", 4000, {});
    await agent("fast-1", 4000, { gpu_model: "A100" });
  });

  after(async () => {
    for (const a of agents) a.close();
    client.close();
    await master.stop();
    dir.remove();
  });

  test("a constrained component goes only to a node with the label; node list shows labels", async () => {
    const spec = jobSpec("on-a100", { w: { cpu: 500, num: 2 } });
    (spec.components ?? [])[0] = { ...(spec.components ?? [])[0], constraints: { gpu_model: "A100" } };
    await call(client, "SubmitJob", { spec });
    const job = await eventually(async () => {
      const j = await getJob("on-a100");
      return j.state === "scheduled" ? j : null;
    }, 5000);
    assert.deepEqual(nodesOf(job), ["fast-1", "fast-1"]);
    const nodes = await call<{ nodes: { name: string; labels: Record<string, string> }[] }>(client, "ListNodes", {});
    assert.deepEqual(nodes.nodes.find((n) => n.name === "fast-1")?.labels, { gpu_model: "A100" });
    await stop("on-a100");
  });

  test("spread_across node puts no two replicas on one node", async () => {
    const spec = jobSpec("spread", { w: { cpu: 100, num: 3 } }, { allocationMode: "single-metric-compacted" });
    (spec.components ?? [])[0] = { ...(spec.components ?? [])[0], spreadAcross: "node" };
    await call(client, "SubmitJob", { spec });
    const job = await eventually(async () => {
      const j = await getJob("spread");
      return j.state === "scheduled" ? j : null;
    }, 5000);
    assert.deepEqual(nodesOf(job), ["fast-1", "plain-1", "plain-2"]);
    await stop("spread");
  });

  test("an unplaceable job explains itself with counts by reason", async () => {
    const spec = jobSpec("on-h100", { w: { cpu: 500 } });
    (spec.components ?? [])[0] = { ...(spec.components ?? [])[0], constraints: { gpu_model: "H100" } };
    await call(client, "SubmitJob", { spec });
    const job = await eventually(async () => {
      const j = await getJob("on-h100");
      return j.explanation ? j : null;
    }, 5000);
    assert.equal(job.state, "pending");
    assert.equal(job.explanation?.componentId, "w-0");
    assert.deepEqual(job.explanation?.filtered, { "constraint gpu_model": 3 });
    assert.match(job.reason, /gpu_model/);
    await stop("on-h100");
  });

  test("a cordoned node is counted as cordoned in the explanation", async () => {
    for (const n of ["plain-1", "plain-2", "fast-1"]) await call(client, "CordonNode", { name: n });
    await call(client, "SubmitJob", { spec: jobSpec("blocked", { w: { cpu: 100 } }) });
    const job = await eventually(async () => {
      const j = await getJob("blocked");
      return j.explanation ? j : null;
    }, 5000);
    assert.deepEqual(job.explanation?.filtered, { cordoned: 3 });
    await call(client, "UncordonNode", { name: "plain-1" });
    await eventually(async () => (await getJob("blocked")).state === "scheduled", 5000, "placed once uncordoned");
    for (const n of ["plain-2", "fast-1"]) await call(client, "UncordonNode", { name: n });
    await stop("blocked");
  });

  test("when room frees, a higher-priority job goes before an older lower-priority one", async () => {
    // Fill the cluster, then queue low (older) and high (newer), each needing a whole node.
    await call(client, "SubmitJob", { spec: jobSpec("filler", { w: { cpu: 4000, num: 3 } }) });
    await eventually(async () => (await getJob("filler")).state === "scheduled", 5000, "filler placed");
    await call(client, "SubmitJob", { spec: jobSpec("low", { w: { cpu: 4000 } }, { priority: 0 }) });
    await call(client, "SubmitJob", { spec: jobSpec("high", { w: { cpu: 4000 } }, { priority: 5 }) });
    const filler = await getJob("filler");
    const first = filler.components[0];
    const owner = agents.find((a) => a.starts.some((s) => s.containerName === first?.containerName));
    owner?.status({ containerName: first?.containerName, state: "exited", exitCode: 0, hasExitCode: true });
    await eventually(async () => (await getJob("high")).state === "scheduled", 5000, "high placed first");
    assert.equal((await getJob("low")).state, "pending");
    for (const name of ["filler", "low", "high"]) await stop(name);
  });
});
