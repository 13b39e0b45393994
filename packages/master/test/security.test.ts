import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ChannelCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { createCa, createCsr, issueClientCert } from "@maro/pki";
import {
  createLogger,
  type JoinRequest,
  type JoinResponseOut,
  type JoinTokenOut,
  loadMaroProto,
  PROTOCOL_VERSION,
} from "@maro/proto";
import { ScriptedAgent } from "../../../test/support/fake-agent.js";
import { testMasterOptions } from "../../../test/support/master.js";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { eventually, tempDir } from "../../../test/support/tmp.js";
import { type RunningMaster, startMaster } from "../src/index.js";

const CLUSTER = "locked";

type Callback<T> = (err: ServiceError | null, res?: T) => void;

/** One unary call on the Master service with the given credentials. */
function masterCall<T>(address: string, creds: ChannelCredentials, method: string, req: object): Promise<T> {
  const proto = loadMaroProto();
  const client = new proto.maro.v1.Master(address, creds);
  return new Promise<T>((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: object, o: object, cb: Callback<T>) => void>)[method];
    fn?.call(client, req, { deadline: new Date(Date.now() + 5000) }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res as T);
    });
  });
}

function joinCall(address: string, creds: ChannelCredentials, req: JoinRequest): Promise<JoinResponseOut> {
  const proto = loadMaroProto();
  const client = new proto.maro.v1.AgentChannel(address, creds);
  return new Promise((resolve, reject) => {
    client.Join(req, (err: ServiceError | null, res?: JoinResponseOut) => {
      client.close();
      if (err || !res) reject(err);
      else resolve(res);
    });
  });
}

const hasCode = (code: number, pattern?: RegExp) => (err: ServiceError) => {
  assert.equal(err.code, code, `${err.code}: ${err.details}`);
  if (pattern) assert.match(err.details, pattern);
  return true;
};

describe("every door of the master is locked", () => {
  const dir = tempDir("security");
  const logLines: string[] = [];
  let pki: TestPki;
  let master: RunningMaster;
  const agents: ScriptedAgent[] = [];
  const admin = () => pki.creds(pki.admin);

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(
      testMasterOptions(CLUSTER, dir.path, join(dir.path, "tls"), {
        heartbeatTtlMs: 2000,
        log: createLogger("test", (line) => logLines.push(line)),
      }),
    );
  });

  after(async () => {
    for (const a of agents) a.close();
    await master.stop();
    dir.remove();
  });

  test("a call without a client certificate is refused as unauthenticated", async () => {
    await assert.rejects(
      masterCall(master.address, pki.creds(), "ListJobs", {}),
      hasCode(status.UNAUTHENTICATED, /needs a client certificate/),
    );
    assert.ok(
      logLines.some((l) => l.includes("call refused: no client certificate")),
      "the refusal is logged",
    );
  });

  test("a client certificate from another CA counts as none", async () => {
    const otherCa = await createCa({ clusterName: "other" });
    const intruder = await issueClientCert(otherCa, { kind: "admin", name: "admin" });
    await assert.rejects(
      masterCall(master.address, pki.creds(intruder), "ListJobs", {}),
      hasCode(status.UNAUTHENTICATED, /needs a client certificate/),
    );
  });

  test("a node certificate calling SubmitJob is refused and nothing is stored", async () => {
    const node = await pki.nodeCert("worker-1");
    const spec = {
      name: "sneaky",
      components: [
        { type: "x", resources: { cpuMillis: 100, memoryBytes: 1 << 24, gpu: 0 }, num: 1, command: ["true"] },
      ],
    };
    await assert.rejects(
      masterCall(master.address, pki.creds(node), "SubmitJob", { spec }),
      hasCode(status.PERMISSION_DENIED, /node "worker-1" may not call \/maro.v1.Master\/SubmitJob/),
    );
    const jobs = await masterCall<{ jobs: unknown[] }>(master.address, admin(), "ListJobs", {});
    assert.deepEqual(jobs.jobs, []);
  });

  test("the admin certificate cannot open the agent channel", async () => {
    const a = new ScriptedAgent(master.address, pki.creds(pki.admin), { nodeName: "admin", clusterName: CLUSTER });
    agents.push(a);
    await eventually(() => a.ended, 5000, "the stream to end");
    assert.equal((a.error as ServiceError | null)?.code, status.PERMISSION_DENIED);
  });

  test("a node cannot register, or report, as another node", async () => {
    const a = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert("node-a")), {
      nodeName: "node-b",
      clusterName: CLUSTER,
    });
    agents.push(a);
    await eventually(() => a.messages.length > 0, 5000, "an answer");
    assert.equal(a.messages[0]?.refused?.code, "PERMISSION_DENIED");
    assert.match(a.messages[0]?.refused?.message ?? "", /certificate of node "node-a" cannot register node "node-b"/);
    const nodes = await masterCall<{ nodes: { name: string }[] }>(master.address, admin(), "ListNodes", {});
    assert.equal(
      nodes.nodes.some((n) => n.name === "node-b"),
      false,
    );

    // node-c runs a component; node-d claims it exited: the master ignores it.
    const c = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert("node-c")), {
      nodeName: "node-c",
      clusterName: CLUSTER,
    });
    const d = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert("node-d")), {
      nodeName: "node-d",
      clusterName: CLUSTER,
      allocatable: { cpuMillis: 0, memoryBytes: 0, gpu: 0 },
    });
    agents.push(c, d);
    await eventually(() => c.messages[0]?.registered && d.messages[0]?.registered, 5000, "both registered");
    const spec = {
      name: "honest",
      components: [
        { type: "w", resources: { cpuMillis: 100, memoryBytes: 1 << 24, gpu: 0 }, num: 1, command: ["true"] },
      ],
    };
    await masterCall(master.address, admin(), "SubmitJob", { spec });
    await eventually(() => c.starts.length === 1, 5000, "start on node-c");
    const name = c.starts[0]?.containerName ?? "";
    c.status({ containerName: name, state: "running" });
    await eventually(
      async () =>
        (await masterCall<{ state: string }>(master.address, admin(), "GetJob", { name: "honest" })).state ===
        "running",
    );
    d.status({ containerName: name, state: "exited", exitCode: 9, hasExitCode: true });
    await new Promise((r) => setTimeout(r, 300));
    const job = await masterCall<{ state: string }>(master.address, admin(), "GetJob", { name: "honest" });
    assert.equal(job.state, "running", "a report from another node changes nothing");
    assert.ok(
      logLines.some((l) => l.includes("status refused: container belongs to another node") && l.includes("node-d")),
      "the refusal is logged",
    );
  });

  test("join tokens: a valid token joins; a rotated-out or revoked one cannot", async () => {
    const first = await masterCall<JoinTokenOut>(master.address, admin(), "RotateJoinToken", {});
    assert.match(first.token, /^maro1\./);
    const request = async (nodeName: string, token: string) => {
      const { csrPem, keyPem } = await createCsr({ kind: "node", name: nodeName });
      const res = await joinCall(master.address, pki.creds(), {
        protocolVersion: PROTOCOL_VERSION,
        clusterName: CLUSTER,
        nodeName,
        token,
        csrPem,
      });
      return { keyPem, certPem: res.certificatePem };
    };
    const joined = await request("joiner", first.token);
    const a = new ScriptedAgent(master.address, pki.creds(joined), { nodeName: "joiner", clusterName: CLUSTER });
    agents.push(a);
    await eventually(() => a.messages[0]?.registered, 5000, "the joined node to register");

    const second = await masterCall<JoinTokenOut>(master.address, admin(), "RotateJoinToken", {});
    await assert.rejects(request("late", first.token), hasCode(status.UNAUTHENTICATED, /not valid/));
    await request("late", second.token);
    const revoked = await masterCall<{ id: string }>(master.address, admin(), "RevokeJoinToken", {});
    assert.equal(revoked.id, second.id);
    await assert.rejects(request("later", second.token), hasCode(status.UNAUTHENTICATED, /not valid/));
    await assert.rejects(request("later", "not-a-token"), hasCode(status.UNAUTHENTICATED, /malformed/));
    const logs = logLines.join("\n");
    assert.ok(logs.includes("join refused"), "refused joins are logged");
    for (const secret of [first.token, second.token]) {
      assert.equal(logs.includes(secret), false, "no token in the logs");
      assert.equal(logs.includes(secret.split(".")[2] ?? "-"), false, "no token secret in the logs");
    }
  });

  test("a CSR that names another node is refused", async () => {
    const token = await masterCall<JoinTokenOut>(master.address, admin(), "RotateJoinToken", {});
    const { csrPem } = await createCsr({ kind: "node", name: "someone-else" });
    await assert.rejects(
      joinCall(master.address, pki.creds(), {
        protocolVersion: PROTOCOL_VERSION,
        clusterName: CLUSTER,
        nodeName: "me",
        token: token.token,
        csrPem,
      }),
      hasCode(status.INVALID_ARGUMENT, /csr_pem/),
    );
  });

  test("the master's logs never carry the Redis password", () => {
    assert.ok(master.redis.password.length > 10);
    assert.equal(logLines.join("\n").includes(master.redis.password), false);
  });
});
