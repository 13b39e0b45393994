// Hostile input against a real master over TLS: arbitrary bytes as request
// bodies, broken gRPC framing, oversized messages, hostile field values and
// hostile Register messages. Every call must end with a clear gRPC error (or a
// valid answer), the master must stay up, and the cluster state must not move.

import assert from "node:assert/strict";
import { connect as connectHttp2, constants as h2 } from "node:http2";
import { connect as connectTcp, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { connect as connectTls } from "node:tls";
import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import {
  createLogger,
  type JobOut,
  type JobSpec,
  loadMaroProto,
  type MasterMessageOut,
  type NodeOut,
  PROTOCOL_VERSION,
  type Register,
} from "@maro/proto";
import fc from "fast-check";
import { ScriptedAgent } from "../../../test/support/fake-agent.js";
import { testMasterOptions } from "../../../test/support/master.js";
import { makeTestPki, type TestPki } from "../../../test/support/pki.js";
import { eventually, sleep, tempDir } from "../../../test/support/tmp.js";
import { type RunningMaster, startMaster } from "../src/index.js";
import { MAX_MESSAGE_BYTES } from "../src/server.js";

const CLUSTER = "hostile";
const SEED = 20240603;
const CALL_DEADLINE_MS = 3000;
const MiB = 1024 * 1024;
const INT64_MAX = "9223372036854775807";
const INT64_MIN = "-9223372036854775808";

/** The client side of one method, as proto-loader describes it. */
interface ClientMethod<Req, Res> {
  path: string;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (bytes: Buffer) => Res;
}

/** A unary call that settles with the error or the answer, never hangs (deadline). */
function unary<Req, Res>(
  client: grpc.Client,
  method: ClientMethod<Req, Res>,
  request: Req,
  deadlineMs = CALL_DEADLINE_MS,
): Promise<{ err: grpc.ServiceError | null; res: Res | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      { deadline: Date.now() + deadlineMs },
      (err, res) => resolve({ err, res }),
    );
  });
}

/** Like unary, but the answer or a thrown ServiceError. */
async function call<Req, Res>(client: grpc.Client, method: ClientMethod<Req, Res>, request: Req): Promise<Res> {
  const { err, res } = await unary(client, method, request, 5000);
  if (err) throw err;
  if (res === undefined) throw new Error(`${method.path}: no answer`);
  return res;
}

/** Bytes in, bytes out: what goes on the wire is exactly `bytes`. */
const rawMethod = (path: string): ClientMethod<Buffer, Buffer> => ({
  path,
  requestSerialize: (b) => b,
  responseDeserialize: (b) => b,
});

const isCode = (code: number, pattern?: RegExp) => (err: unknown) => {
  const e = err as grpc.ServiceError;
  assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.details}`);
  if (pattern) assert.match(e.details, pattern);
  return true;
};

/**
 * A gRPC error is "clear" when it has a message, is not UNKNOWN, and is not a
 * deadline (the master must answer, not hang). INTERNAL is only acceptable as
 * grpc-js's own refusal to decode the request; any other INTERNAL is a handler
 * that threw something unexpected.
 */
function assertClearError(err: grpc.ServiceError, what: string): void {
  assert.notEqual(err.code, grpc.status.OK, what);
  assert.notEqual(err.code, grpc.status.DEADLINE_EXCEEDED, `${what}: the master did not answer within the deadline`);
  assert.notEqual(err.code, grpc.status.UNKNOWN, `${what}: UNKNOWN error: ${err.details}`);
  assert.notEqual(err.code, grpc.status.UNAVAILABLE, `${what}: the master went away: ${err.details}`);
  assert.ok(err.details.length > 0, `${what}: the error has no message`);
  if (err.code === grpc.status.INTERNAL)
    assert.match(err.details, /^Error deserializing request/, `${what}: unexpected INTERNAL error: ${err.details}`);
}

// ---- arbitrary bytes -------------------------------------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return out;
}

/** Something that looks like protobuf: tags of every wire type, lying lengths, nesting. */
const protobufLike: fc.Arbitrary<Uint8Array> = fc.letrec<{ message: Uint8Array; field: Uint8Array }>((tie) => ({
  field: fc
    .tuple(
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 0, max: 7 }),
      fc.oneof({ depthSize: "small", maxDepth: 3 }, fc.uint8Array({ maxLength: 24 }), tie("message")),
      fc.option(fc.oneof(fc.nat({ max: 4096 }), fc.constant(2 ** 32 - 1)), { nil: undefined }),
      fc.oneof(fc.nat(), fc.integer({ min: -(2 ** 31), max: -1 }), fc.constant(Number.MAX_SAFE_INTEGER)),
    )
    .map(([field, wire, payload, lyingLength, number]) => {
      const tag = varint(field * 8 + wire);
      const bytes = [...payload];
      if (wire === 0) return Uint8Array.from([...tag, ...varint(number)]);
      if (wire === 1) return Uint8Array.from([...tag, ...bytes.concat(Array(8).fill(0)).slice(0, 8)]);
      if (wire === 2) return Uint8Array.from([...tag, ...varint(lyingLength ?? bytes.length), ...bytes]);
      if (wire === 5) return Uint8Array.from([...tag, ...bytes.concat(Array(4).fill(0)).slice(0, 4)]);
      return Uint8Array.from([...tag, ...bytes]);
    }),
  message: fc.array(tie("field"), { maxLength: 6 }).map((fields) => Uint8Array.from(fields.flatMap((f) => [...f]))),
})).message;

/** A valid encoding with bytes flipped, inserted or deleted. */
function mutated(valid: Buffer): fc.Arbitrary<Uint8Array> {
  return fc
    .array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    })
    .map((edits) => {
      const bytes = [...valid];
      for (const [kind, at, value] of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        if (kind === 0 && bytes.length > 0) bytes[i] = (bytes[i] ?? 0) ^ (value || 1);
        else if (kind === 1) bytes.splice(i, 0, value);
        else bytes.splice(i, 1);
      }
      return Uint8Array.from(bytes);
    });
}

function garbage(valid: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(fc.uint8Array({ maxLength: 600 }), protobufLike, mutated(valid)).map((bytes) => Buffer.from(bytes));
}

// ---- state ------------------------------------------------------------------

type NodeView = Omit<NodeOut, "lastHeartbeatMs" | "clockSkewMs">;
interface Snapshot {
  jobs: JobOut[];
  nodes: NodeView[];
}

/** A job spec the master accepts; resources too large for any node, so it stays pending. */
function goodSpec(name: string): JobSpec {
  return {
    name,
    allocationMode: "single-metric-balanced",
    allocationMetric: "cpu",
    components: [
      {
        type: "worker",
        resources: { cpuMillis: 1000, memoryBytes: 64 * MiB, gpu: 0 },
        num: 1,
        command: ["true"],
        shell: false,
      },
    ],
  };
}

describe("the master under hostile input", () => {
  const dir = tempDir("hostile");
  const logLines: string[] = [];
  const proto = loadMaroProto();
  const masterService = proto.maro.v1.Master.service;
  const agentService = proto.maro.v1.AgentChannel.service;
  let pki: TestPki;
  let master: RunningMaster;
  let admin: grpc.Client;
  let anonymous: grpc.Client;
  const agents: ScriptedAgent[] = [];

  async function snapshot(): Promise<Snapshot> {
    const jobs = await call(admin, masterService.ListJobs, {});
    const nodes = await call(admin, masterService.ListNodes, {});
    // Heartbeat times (and the clock skew measured from them) move by themselves, and
    // a node whose stream ended turns from "disconnected" to "down" when its TTL runs
    // out: both are one state here.
    return {
      jobs: jobs.jobs,
      nodes: nodes.nodes.map(({ lastHeartbeatMs: _, clockSkewMs: _skew, ...rest }) => ({
        ...rest,
        state: rest.state === "disconnected" ? "down" : rest.state,
      })),
    };
  }

  before(async () => {
    pki = await makeTestPki(dir.path, CLUSTER);
    master = await startMaster(
      testMasterOptions(CLUSTER, dir.path, pki.tlsDir, {
        heartbeatTtlMs: 10_000, // the master shares this event loop with the test: no false "down"
        log: createLogger("test", (line) => logLines.push(line)),
      }),
    );
    admin = new grpc.Client(master.address, pki.creds(pki.admin));
    anonymous = new grpc.Client(master.address, pki.creds());
    // A known state to compare against: one ready node that offers nothing
    // (so nothing is ever placed and the state only moves when input moves
    // it) and one pending job.
    const n0 = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert("n0")), {
      nodeName: "n0",
      clusterName: CLUSTER,
      allocatable: { cpuMillis: 0, memoryBytes: 0, gpu: 0 },
    });
    agents.push(n0);
    await eventually(() => n0.messages[0]?.registered, 5000, "n0 to register");
    await call(admin, masterService.SubmitJob, { spec: goodSpec("keep") });
  });

  after(async () => {
    for (const a of agents) a.close();
    admin?.close();
    anonymous?.close();
    await master?.stop();
    dir.remove();
  });

  test("arbitrary bytes as unary request bodies: a clear error or a valid answer, state unchanged", async (t) => {
    const targets = [
      {
        client: () => admin,
        path: masterService.SubmitJob.path,
        valid: masterService.SubmitJob.requestSerialize({ spec: goodSpec("fuzzed") }),
      },
      {
        client: () => admin,
        path: masterService.GetJob.path,
        valid: masterService.GetJob.requestSerialize({ name: "keep" }),
      },
      {
        client: () => admin,
        path: masterService.StopJob.path,
        valid: masterService.StopJob.requestSerialize({ name: "absent-job" }),
      },
      {
        // The one method open without a client certificate.
        client: () => anonymous,
        path: agentService.Join.path,
        valid: agentService.Join.requestSerialize({
          protocolVersion: PROTOCOL_VERSION,
          clusterName: CLUSTER,
          nodeName: "joiner",
          token: "maro1.abcdef.0123456789",
          csrPem: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        }),
      },
    ];
    let state = await snapshot();
    let accepted = 0;
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(...targets.map((t) => fc.tuple(fc.constant(t), garbage(t.valid)))),
        async ([target, bytes]) => {
          const what = `${target.path} with ${bytes.length} bytes ${bytes.toString("hex").slice(0, 200)}`;
          const { err, res } = await unary(target.client(), rawMethod(target.path), bytes);
          const outcome = `${target.path.split("/").pop()}:${err ? grpc.status[err.code] : "OK"}`;
          seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
          const now = await snapshot(); // also proves the master still answers
          if (err) {
            assertClearError(err, what);
            assert.deepEqual(now, state, `${what}: refused, yet the state changed`);
            return;
          }
          assert.ok(res, `${what}: OK without an answer`);
          accepted++;
          if (target.path === masterService.SubmitJob.path) {
            // Only possible if the bytes decode into a valid SubmitJob: the one new job is the one returned.
            const job = masterService.SubmitJob.responseDeserialize(res).job;
            const before = new Set(state.jobs.map((j) => j.name));
            const added = now.jobs.filter((j) => !before.has(j.name)).map((j) => j.name);
            assert.deepEqual(added, job ? [job.name] : [], `${what}: accepted; only its job may be new`);
          } else if (target.path !== masterService.StopJob.path) {
            assert.deepEqual(now, state, `${what}: a read changed the state`);
          }
          state = now;
        },
      ),
      {
        numRuns: 200,
        seed: SEED,
        interruptAfterTimeLimit: 25_000,
        markInterruptAsFailure: true,
        includeErrorInReport: true,
      },
    );
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    assert.ok(accepted < 200, "most garbage is refused");
    // The bytes reach both the decoder and the handlers' own validation.
    assert.ok(
      [...seen.keys()].some((k) => k.endsWith(":INTERNAL")),
      "some bytes do not decode",
    );
    assert.ok(
      [...seen.keys()].some((k) => /:(INVALID_ARGUMENT|NOT_FOUND|FAILED_PRECONDITION|UNAUTHENTICATED)$/.test(k)),
      "some bytes decode and are refused by the master itself",
    );
    assert.ok(
      (await snapshot()).jobs.some((j) => j.name === "keep" && j.state === "pending"),
      "the state survived",
    );
  });

  test("broken gRPC framing and non-gRPC bytes on the port: refused, master up, state unchanged", async () => {
    const state = await snapshot();
    const [host, port] = [master.address.split(":")[0] ?? "", Number(master.address.split(":")[1])];
    const getJob = masterService.GetJob.requestSerialize({ name: "keep" });
    const frame = (body: Buffer, flag = 0, length = body.length) => {
      const head = Buffer.alloc(5);
      head.writeUInt8(flag, 0);
      head.writeUInt32BE(length, 1);
      return Buffer.concat([head, body]);
    };
    const cases: {
      name: string;
      path?: string;
      headers?: Record<string, string>;
      body: Buffer;
      expect: RegExp;
      okAllowed?: boolean;
    }[] = [
      { name: "length prefix longer than the body", body: frame(getJob, 0, 1000), expect: /^[1-9]/ },
      { name: "length prefix of 4 GiB", body: frame(getJob, 0, 0xffffffff), expect: /^8$/ },
      // grpc-js reads a compressed flag under the identity encoding as uncompressed: a valid answer is fine.
      { name: "compressed flag without an encoding", body: frame(getJob, 1), expect: /^(0|13)$/, okAllowed: true },
      {
        name: "gzip that is not gzip",
        headers: { "grpc-encoding": "gzip" },
        body: frame(getJob, 1),
        expect: /^[1-9]/,
      },
      {
        name: "gzip bomb over the message limit",
        headers: { "grpc-encoding": "gzip" },
        body: frame(gzipSync(Buffer.alloc(MAX_MESSAGE_BYTES * 2)), 1),
        expect: /^8$/,
      },
      { name: "unknown encoding", headers: { "grpc-encoding": "zz" }, body: frame(getJob, 1), expect: /^12$/ },
      { name: "two messages on a unary call", body: Buffer.concat([frame(getJob), frame(getJob)]), expect: /^[1-9]/ },
      { name: "no message at all", body: Buffer.alloc(0), expect: /^[1-9]/ },
      { name: "half a frame header", body: Buffer.from([0, 0, 0]), expect: /^[1-9]/ },
      { name: "an unknown method", path: "/maro.v1.Master/DropDatabase", body: frame(getJob), expect: /^12$/ },
      { name: "a path escape", path: "/../../maro.v1.Master/GetJob", body: frame(getJob), expect: /^12$/ },
    ];
    for (const c of cases) {
      const answer = await rawHttp2(host, port, pki, c.path ?? masterService.GetJob.path, c.body, c.headers ?? {});
      const grpcStatus = answer.grpcStatus ?? "";
      if (!c.okAllowed)
        assert.ok(answer.httpStatus !== 200 || grpcStatus !== "0", `${c.name}: accepted (${JSON.stringify(answer)})`);
      if (answer.httpStatus === 200) {
        assert.match(grpcStatus, c.expect, `${c.name}: ${JSON.stringify(answer)}`);
        assert.ok(answer.grpcMessage, `${c.name}: no grpc-message`);
      }
    }
    const wrongType = await rawHttp2(host, port, pki, masterService.GetJob.path, frame(getJob), {
      "content-type": "application/json",
    });
    assert.equal(wrongType.httpStatus, 415, "a request that is not gRPC is refused");

    // Bytes that are not TLS, and TLS that is not HTTP/2: the connection is closed, nothing else.
    for (const bytes of [
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256)),
    ]) {
      await closedAfter(() => connectTcp({ host, port }), bytes);
    }
    await closedAfter(
      () =>
        connectTls({
          host,
          port,
          ca: pki.ca.certPem,
          cert: pki.admin.certPem,
          key: pki.admin.keyPem,
          ALPNProtocols: ["h2"],
        }),
      Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x09\x00\x00\x00\x00\x00garbage-garbage-garbage"),
    );
    assert.deepEqual(await snapshot(), state);
  });

  test("random bytes on the agent stream: the stream ends refused, no node appears", async () => {
    const nodeCreds = pki.creds(await pki.nodeCert("fz-agent"));
    const raw = new grpc.Client(master.address, nodeCreds);
    const connect = agentService.Connect;
    // Valid except for the cluster name, so decodable mutations are still refused.
    const valid = connect.requestSerialize({
      register: {
        protocolVersion: PROTOCOL_VERSION,
        agentVersion: "fuzz",
        nodeName: "fz-agent",
        clusterName: "zzzzzzz",
        address: "127.0.0.1",
        allocatable: { cpuMillis: 0, memoryBytes: 0, gpu: 0 },
        gpuIndices: [],
        runtime: "process",
      },
    });
    const state = await snapshot();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(garbage(valid), { minLength: 1, maxLength: 3 }), async (frames) => {
          const what = frames.map((f) => f.toString("hex").slice(0, 120)).join(" | ");
          const ended = await agentStream(raw, frames, connect.responseDeserialize);
          assert.equal(ended.timedOut, false, `${what}: the master kept the stream open`);
          assert.equal(
            ended.messages.some((m) => m.registered),
            false,
            `${what}: registered`,
          );
          if (ended.status.code === grpc.status.OK) {
            const refused = ended.messages[0]?.refused;
            assert.ok(refused?.code && refused.message, `${what}: ended OK without a refusal`);
          } else {
            assertClearError(ended.status as grpc.ServiceError, what);
          }
        }),
        {
          numRuns: 60,
          seed: SEED,
          interruptAfterTimeLimit: 15_000,
          markInterruptAsFailure: true,
          includeErrorInReport: true,
        },
      );
      assert.deepEqual(await snapshot(), state, "no node registered from garbage, nothing else moved");

      // A 9 MiB frame on the stream.
      const big = await agentStream(raw, [Buffer.alloc(9 * MiB, 0x0a)], connect.responseDeserialize);
      assert.equal(big.status.code, grpc.status.RESOURCE_EXHAUSTED, big.status.details);

      // Garbage after a valid registration: the stream ends with an error; the node is only disconnected.
      const registered = connect.requestSerialize({
        register: {
          protocolVersion: PROTOCOL_VERSION,
          agentVersion: "fuzz",
          nodeName: "fz-agent",
          clusterName: CLUSTER,
          address: "127.0.0.1",
          allocatable: { cpuMillis: 0, memoryBytes: 0, gpu: 0 },
          gpuIndices: [],
          runtime: "process",
        },
      });
      const mid = await agentStream(raw, [registered], connect.responseDeserialize, [
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
      ]);
      assert.ok(mid.messages[0]?.registered, "the valid Register was accepted");
      assertClearError(mid.status as grpc.ServiceError, "garbage after Register");
      const node = await eventually(
        async () => (await snapshot()).nodes.find((n) => n.name === "fz-agent" && n.state === "down"),
        5000,
        "fz-agent to be disconnected",
      );
      assert.deepEqual(node.allocatable, { cpuMillis: 0, memoryBytes: 0, gpu: 0 });
      const after = await snapshot();
      assert.deepEqual(after.jobs, state.jobs, "jobs untouched");
      assert.deepEqual(
        after.nodes.filter((n) => n.name !== "fz-agent"),
        state.nodes,
        "other nodes untouched",
      );
    } finally {
      raw.close();
    }
  });

  test("oversized: 9 MiB is refused by the transport, 7 MiB by the master's own command limit", async () => {
    const state = await snapshot();
    const withCommand = (name: string, bytes: number): JobSpec => {
      const spec = goodSpec(name);
      const component = spec.components?.[0];
      if (component) component.command = ["x".repeat(bytes)];
      return spec;
    };
    await assert.rejects(
      call(admin, masterService.SubmitJob, { spec: withCommand("huge", 9 * MiB) }),
      isCode(grpc.status.RESOURCE_EXHAUSTED),
    );
    assert.deepEqual(await snapshot(), state, "nothing stored from a 9 MiB request");
    await assert.rejects(
      call(admin, masterService.SubmitJob, { spec: withCommand("large", 7 * MiB) }),
      isCode(grpc.status.INVALID_ARGUMENT, /components\.worker\.command: longer than 64 KiB/),
    );
    assert.deepEqual(await snapshot(), state, "nothing stored from a 7 MiB command");
    // Many small parts adding up: 20,000 components.
    const many = goodSpec("many");
    many.components = Array.from({ length: 20_000 }, (_, i) => ({
      type: `c${i}`,
      resources: { cpuMillis: 1, memoryBytes: MiB, gpu: 0 },
      num: 1,
      command: ["true"],
    }));
    await assert.rejects(
      call(admin, masterService.SubmitJob, { spec: many }),
      isCode(grpc.status.INVALID_ARGUMENT, /components: 20000 replicas in all; at most 10000/),
    );
    assert.deepEqual(await snapshot(), state, "nothing stored from 20,000 components");
  });

  describe("hostile field values over the typed API", () => {
    /** One hostile change to an otherwise valid spec, and the field the refusal must name. */
    interface Hostile {
      label: string;
      apply(spec: JobSpec): void;
      field: RegExp;
    }
    const component = (spec: JobSpec) => {
      const c = spec.components?.[0];
      assert.ok(c);
      return c;
    };
    const names = [
      "../x",
      "..",
      ".",
      "a/b",
      "/",
      "/etc/passwd",
      "jöb",
      "日本語",
      "a".repeat(300),
      "a".repeat(64),
      "",
      "UPPER",
      "-lead",
      "trail-",
      "a_b",
      "a b",
      "a\u0000b",
      "a\nb",
      "%2e%2e",
      "a\u202eb",
    ];
    const hostile: Hostile[] = [
      ...names.map((v) => ({
        label: `name ${JSON.stringify(v.slice(0, 20))}`,
        apply: (s: JobSpec) => {
          s.name = v;
        },
        field: /^name: /m,
      })),
      ...names.map((v) => ({
        label: `component type ${JSON.stringify(v.slice(0, 20))}`,
        apply: (s: JobSpec) => {
          component(s).type = v;
        },
        field: /^components\.[\s\S]*: type "[\s\S]*" is not a DNS label/m,
      })),
      ...[
        "..",
        "../../etc/passwd",
        "relative/path",
        "data",
        "./data",
        "/data/../../etc",
        "/mnt/..",
        "/mnt/data\u0000/x",
        "\u0000",
        "/mnt/data:/etc",
        "/",
      ].map((v) => ({
        label: `mount_target ${JSON.stringify(v)}`,
        apply: (s: JobSpec) => {
          component(s).mountTarget = v;
        },
        field: /\.mount\.target: /,
      })),
      ...["relative", "../x", "a/..", "/a/../b", "/a/./b", "//etc", "/tmp\u0000/x"].map((v) => ({
        label: `source_dir ${JSON.stringify(v)}`,
        apply: (s: JobSpec) => {
          s.sourceDir = v;
        },
        field: /^source_dir: /m,
      })),
      ...(
        [
          ["cpu", -1],
          ["cpu", 0],
          ["cpu", Number.NaN],
          ["cpu", 0.5],
          ["cpu", INT64_MIN],
          ["cpu", INT64_MAX],
          ["cpu", Number.POSITIVE_INFINITY],
          ["cpu", 2 ** 60],
          ["memory", -1],
          ["memory", Number.NaN],
          ["memory", INT64_MAX],
          ["memory", 2 ** 60],
          ["gpu", -1],
          ["gpu", 2 ** 31 - 1],
        ] as const
      ).map(([which, v]) => ({
        label: `resources.${which} ${String(v)}`,
        apply: (s: JobSpec) => {
          const r = component(s).resources ?? {};
          if (which === "cpu") r.cpuMillis = v;
          else if (which === "memory") r.memoryBytes = v;
          else r.gpu = Number(v);
          component(s).resources = r;
        },
        field: new RegExp(`\\.resources\\.${which}: `),
      })),
      ...[0, -1, -(2 ** 31), 2 ** 31 - 1, 10_001].map((v) => ({
        label: `num ${v}`,
        apply: (s: JobSpec) => {
          component(s).num = v;
        },
        field: /\.num: |^components: \d+ replicas in all/m,
      })),
      {
        label: "no components",
        apply: (s) => {
          s.components = [];
        },
        field: /^components: /m,
      },
      {
        label: "duplicate component types",
        apply: (s) => {
          s.components = [component(s), { ...component(s) }];
        },
        field: /duplicate component type/,
      },
      {
        label: "allocation mode",
        apply: (s) => {
          s.allocationMode = "../x";
        },
        field: /^allocation\.mode: /m,
      },
      {
        label: "allocation metric",
        apply: (s) => {
          s.allocationMetric = "rm -rf";
        },
        field: /^allocation\.metric: /m,
      },
      {
        label: "shell command of two strings",
        apply: (s) => void Object.assign(component(s), { shell: true, command: ["sh", "-c"] }),
        field: /\.command: /,
      },
      ...["a b", "../x", "a/b/c", "Example.com/rack", "/rack", "zone\u0000", "\u0000", "", "_x", "k".repeat(64)].map(
        (key) => ({
          label: `constraint key ${JSON.stringify(key.slice(0, 20))}`,
          apply: (s: JobSpec) => {
            component(s).constraints = { zone: "a", [key]: "v" };
          },
          field: /^components\.worker\.constraints: ".*" is not a label key/m,
        }),
      ),
      ...["", "a b", "a\u0000b", "v".repeat(64), "-a", "日本"].map((value) => ({
        label: `constraint value ${JSON.stringify(value.slice(0, 20))}`,
        apply: (s: JobSpec) => {
          component(s).constraints = { zone: value };
        },
        field: /^components\.worker\.constraints\.zone: .* is not a label value/m,
      })),
      {
        // Large enough to be hostile (625 times the cap), small enough for protobuf to encode within the deadline here.
        label: "a constraints map of 20,000 entries",
        apply: (s) => {
          component(s).constraints = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, "v"]));
        },
        field: /^components\.worker\.constraints: 20000 constraints; at most 32$/m,
      },
      ...["rack", "NODE", "node\u0000", "../node"].map((value) => ({
        label: `spread_across ${JSON.stringify(value)}`,
        apply: (s: JobSpec) => {
          component(s).spreadAcross = value;
        },
        field: /^components\.worker\.spread_across: .* is not supported/m,
      })),
      {
        label: "allocation mode binpack with a bogus metric",
        apply: (s) => {
          s.allocationMode = "binpack";
          s.allocationMetric = "disk";
        },
        field: /^allocation\.metric: "disk"/m,
      },
    ];

    const expectRefused = async (spec: JobSpec, fields: RegExp[], what: string) => {
      const state = await snapshot();
      const { err } = await unary(admin, masterService.SubmitJob, { spec });
      assert.ok(err, `${what}: accepted`);
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${what}: ${err.code} ${err.details}`);
      for (const field of fields) assert.match(err.details, field, `${what}: the message names the field`);
      assert.deepEqual(await snapshot(), state, `${what}: nothing stored`);
    };

    // Every case gets its own valid name, so a case the master wrongly accepts cannot mask the next one.
    let serial = 0;
    const freshSpec = () => goodSpec(`ok-${++serial}`);
    for (const h of hostile) {
      test(`${h.label}: INVALID_ARGUMENT naming the field, nothing stored`, async () => {
        const spec = freshSpec();
        h.apply(spec);
        await expectRefused(spec, [h.field], h.label);
      });
    }

    test("property: any mix of hostile values is refused naming every bad field, nothing stored", async () => {
      const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
      const badLabel = fc
        .oneof(fc.constantFrom(...names), fc.string({ unit: "binary", maxLength: 80 }))
        .filter((s) => !dnsLabel.test(s));
      const segment = fc.oneof(fc.constantFrom("..", ".", "", "etc", "x\u0000y"), fc.stringMatching(/^[a-z]{1,5}$/));
      const badPath = fc
        .tuple(fc.boolean(), fc.array(segment, { minLength: 1, maxLength: 5 }))
        .map(([absolute, parts]) => `${absolute ? "/" : ""}${parts.join("/")}`)
        .filter((p) => !p.startsWith("/") || p.split("/").includes("..") || p.includes("\u0000"));
      const badCount = fc.oneof(
        fc.integer({ min: -(2 ** 53), max: 0 }),
        fc.constantFrom(Number.NaN, INT64_MIN, INT64_MAX, Number.POSITIVE_INFINITY, 2 ** 60),
      );
      const mutation = fc.oneof(
        badLabel.map((v) => ({
          label: `name=${JSON.stringify(v)}`,
          apply: (s: JobSpec) => {
            s.name = v;
          },
          field: /^name: /m,
        })),
        badLabel.map((v) => ({
          label: `type=${JSON.stringify(v)}`,
          apply: (s: JobSpec) => {
            component(s).type = v;
          },
          field: /^components\.[\s\S]*: type "[\s\S]*" is not a DNS label/m,
        })),
        badPath.map((v) => ({
          label: `mount_target=${JSON.stringify(v)}`,
          apply: (s: JobSpec) => {
            component(s).mountTarget = v;
          },
          field: /\.mount\.target: /,
        })),
        badPath.map((v) => ({
          label: `source_dir=${JSON.stringify(v)}`,
          apply: (s: JobSpec) => {
            s.sourceDir = v;
          },
          field: /^source_dir: /m,
        })),
        badCount.map((v) => ({
          label: `cpu=${String(v)}`,
          apply: (s: JobSpec) => void Object.assign(component(s).resources ?? {}, { cpuMillis: v }),
          field: /\.resources\.cpu: /,
        })),
        badCount.map((v) => ({
          label: `memory=${String(v)}`,
          apply: (s: JobSpec) => void Object.assign(component(s).resources ?? {}, { memoryBytes: v }),
          field: /\.resources\.memory: /,
        })),
        fc.oneof(fc.integer({ min: -(2 ** 31), max: 0 }), fc.integer({ min: 10_001, max: 2 ** 31 - 1 })).map((v) => ({
          label: `num=${v}`,
          apply: (s: JobSpec) => {
            component(s).num = v;
          },
          field: /\.num: |^components: \d+ replicas in all/m,
        })),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
          const spec = freshSpec();
          for (const m of mutations) m.apply(spec);
          await expectRefused(
            spec,
            mutations.map((m) => m.field),
            JSON.stringify(spec, (_, v) => (typeof v === "string" && v.length > 60 ? `${v.slice(0, 60)}…` : v)),
          );
        }),
        {
          numRuns: 100,
          seed: SEED,
          interruptAfterTimeLimit: 15_000,
          markInterruptAsFailure: true,
          includeErrorInReport: true,
        },
      );
    });
  });

  test("hostile Register messages: refused with a reason, no node with a bogus state appears", async () => {
    const cases: { label: string; register: Partial<Register>; code: RegExp }[] = [
      { label: "protocol 0", register: { protocolVersion: 0 }, code: /^PROTOCOL_MISMATCH$/ },
      { label: "protocol 2", register: { protocolVersion: PROTOCOL_VERSION + 1 }, code: /^PROTOCOL_MISMATCH$/ },
      { label: "protocol -1", register: { protocolVersion: -1 }, code: /^PROTOCOL_MISMATCH$/ },
      { label: "protocol int32 max", register: { protocolVersion: 2 ** 31 - 1 }, code: /^PROTOCOL_MISMATCH$/ },
      { label: "another cluster", register: { clusterName: "../other" }, code: /^WRONG_CLUSTER$/ },
      { label: "no cluster", register: { clusterName: "" }, code: /^WRONG_CLUSTER$/ },
      {
        label: "negative cpu",
        register: { allocatable: { cpuMillis: -1, memoryBytes: MiB, gpu: 0 } },
        code: /INVALID/,
      },
      {
        label: "int64 min memory",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: INT64_MIN, gpu: 0 } },
        code: /INVALID/,
      },
      {
        label: "negative gpu",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: MiB, gpu: -1 } },
        code: /INVALID/,
      },
      {
        label: "int64 max cpu",
        register: { allocatable: { cpuMillis: INT64_MAX, memoryBytes: MiB, gpu: 0 } },
        code: /INVALID/,
      },
      {
        label: "infinite memory (int64 max on the wire)",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: Number.POSITIVE_INFINITY, gpu: 0 } },
        code: /INVALID/,
      },
      {
        label: "cpu past 2^53 (not exact as a number)",
        register: { allocatable: { cpuMillis: 2 ** 53 + 2, memoryBytes: MiB, gpu: 0 } },
        code: /INVALID/,
      },
      {
        label: "gpu 2 with one index",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: MiB, gpu: 2 }, gpuIndices: [0] },
        code: /INVALID/,
      },
      {
        label: "gpu 0 with an index",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: MiB, gpu: 0 }, gpuIndices: [3] },
        code: /INVALID/,
      },
      {
        label: "gpu int32 max, no indices",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: MiB, gpu: 2 ** 31 - 1 }, gpuIndices: [] },
        code: /INVALID/,
      },
      {
        label: "the same gpu index twice",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: MiB, gpu: 2 }, gpuIndices: [0, 0] },
        code: /INVALID/,
      },
      {
        label: "a negative gpu index",
        register: { allocatable: { cpuMillis: 1000, memoryBytes: MiB, gpu: 1 }, gpuIndices: [-1] },
        code: /INVALID/,
      },
      { label: "no allocatable", register: { allocatable: null }, code: /INVALID/ },
      { label: "unknown runtime", register: { runtime: "sh -c 'rm -rf /'" }, code: /INVALID/ },
      ...["../r", "R", "r/x", "", "r\u0000", "a".repeat(300), "ünï"].map((name) => ({
        label: `node name ${JSON.stringify(name.slice(0, 20))}`,
        register: { nodeName: name },
        code: /^PERMISSION_DENIED$|^INVALID_ARGUMENT$/,
      })),
    ];
    const state = await snapshot();
    const failures: string[] = [];
    for (const [i, c] of cases.entries()) {
      const certName = `r${i}`;
      const a = new ScriptedAgent(master.address, pki.creds(await pki.nodeCert(certName)), {
        nodeName: certName,
        clusterName: CLUSTER,
        allocatable: { cpuMillis: 0, memoryBytes: 0, gpu: 0 },
        ...c.register,
      });
      agents.push(a);
      await eventually(() => a.messages.length > 0 || a.ended, 5000, `an answer to ${c.label}`);
      await eventually(() => a.ended || a.messages[0]?.registered, 5000, `${c.label}: the stream to end`);
      const first = a.messages[0];
      a.close();
      const appeared = (await snapshot()).nodes.filter((n) => n.name === certName);
      if (first?.registered || appeared.length > 0) {
        failures.push(
          `${c.label}: registered as ${JSON.stringify(appeared.map(({ gpuIndices, allocatable }) => ({ allocatable, gpuIndices })))}`,
        );
        continue;
      }
      if (!first?.refused?.code.match(c.code) || !first.refused.message)
        failures.push(`${c.label}: answered ${JSON.stringify(first)} (stream error: ${String(a.error)})`);
    }
    const known = (await snapshot()).nodes.filter((n) => state.nodes.some((m) => m.name === n.name));
    assert.deepEqual(known, state.nodes, "the nodes that were there are untouched");
    assert.deepEqual(failures, [], `hostile Register messages the master did not refuse:\n${failures.join("\n")}`);
  });

  test("the master is up and nothing unexpected was logged as an error", async () => {
    await call(admin, masterService.ListJobs, {});
    await sleep(100);
    const errors = logLines.filter((l) => l.includes('"level":"error"'));
    assert.deepEqual(errors, [], "handler failures logged as errors");
  });
});

// ---- raw transports ----------------------------------------------------------

interface StreamEnd {
  status: { code: number; details: string };
  messages: MasterMessageOut[];
  timedOut: boolean;
}

/**
 * Opens the agent channel with raw frames and waits until the master ends it
 * (or 3 s pass). With `afterReply`, writes those frames once the master has
 * answered the first ones (so a registration completes before the garbage).
 */
function agentStream(
  client: grpc.Client,
  frames: Buffer[],
  deserialize: (b: Buffer) => MasterMessageOut,
  afterReply: Buffer[] = [],
): Promise<StreamEnd> {
  return new Promise((resolve) => {
    const messages: MasterMessageOut[] = [];
    const stream = client.makeBidiStreamRequest(agentServicePath, (b: Buffer) => b, deserialize, new grpc.Metadata(), {
      deadline: Date.now() + 10_000,
    });
    let done = false;
    const finish = (status: { code: number; details: string }, timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ status, messages, timedOut });
    };
    const timer = setTimeout(() => {
      stream.cancel();
      finish({ code: grpc.status.CANCELLED, details: "timed out" }, true);
    }, CALL_DEADLINE_MS);
    stream.on("data", (m: MasterMessageOut) => {
      messages.push(m);
      if (messages.length === 1) for (const f of afterReply) stream.write(f);
    });
    stream.on("status", (s: grpc.StatusObject) => finish({ code: s.code, details: s.details }, false));
    stream.on("error", () => {}); // the status event carries it
    for (const f of frames) stream.write(f);
  });
}
const agentServicePath = "/maro.v1.AgentChannel/Connect";

interface Http2Answer {
  httpStatus: number | undefined;
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
}

/** One HTTP/2 request with a hand-made body, as the admin; resolves when the stream closes (or 4 s pass). */
function rawHttp2(
  host: string,
  port: number,
  pki: TestPki,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<Http2Answer> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`https://${host}:${port}`, {
      ca: pki.ca.certPem,
      cert: pki.admin.certPem,
      key: pki.admin.keyPem,
    });
    const answer: Http2Answer = { httpStatus: undefined, grpcStatus: undefined, grpcMessage: undefined };
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`${path}: no answer within 4 s (${JSON.stringify(answer)})`));
    }, 4000);
    session.on("error", () => {});
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: "POST",
      [h2.HTTP2_HEADER_PATH]: path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "3S",
      ...headers,
    });
    const take = (h: Record<string, unknown>) => {
      const status = h[h2.HTTP2_HEADER_STATUS];
      if (typeof status === "number") answer.httpStatus = status;
      if (typeof h["grpc-status"] === "string") answer.grpcStatus = h["grpc-status"];
      if (typeof h["grpc-message"] === "string") answer.grpcMessage = decodeURIComponent(h["grpc-message"]);
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", () => {});
    req.on("error", () => {});
    req.on("close", () => {
      clearTimeout(timer);
      session.close();
      resolve(answer);
    });
    req.end(body);
  });
}

/** Writes bytes on a fresh connection and waits until the master closes it. */
function closedAfter(open: () => Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = open();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("the master kept a garbage connection open for 5 s"));
    }, 5000);
    socket.on("error", () => {});
    socket.on("data", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.write(bytes);
  });
}
