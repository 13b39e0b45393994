// Real @grpc/grpc-js: what call.getAuthContext() reports for each kind of server credentials and client.
//
// Findings (grpc-js 1.14.7, Node 20):
// - ServerCredentials.createSsl(ca, pairs, false) sets requestCert: false, so the server never asks for a client
//   certificate: getAuthContext() is {} for everyone, even a client that has a valid node certificate.
// - createSsl(ca, pairs, true): the certificate is required; clients without one (or with one from another CA)
//   fail with UNAVAILABLE before any handler runs; handlers see { transportSecurityType: "ssl", sslPeerCertificate }.
// - experimental.createCertificateProviderServerCredentials(p, p, false): requested but optional. A verified client
//   certificate appears as above; no certificate, or one that does not verify, gives {} (grpc-js checks
//   socket.authorized), so the subject of an unverified certificate is never exposed.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import {
  type CertBundle,
  createCsr,
  type Identity,
  identityOfSubject,
  issueClientCert,
  issueServerCert,
  signCsr,
  staticCertificateProvider,
} from "../src/index.js";
import { devCa, strangerCa } from "./helpers.js";

/** What the handler saw, as plain JSON. */
interface Seen {
  authContextKeys: string[];
  transportSecurityType: string | null;
  hasPeerCertificate: boolean;
  subject: Record<string, unknown> | null;
  identity: Identity | null;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const WHO_AM_I: grpc.MethodDefinition<Record<string, never>, Seen> = {
  path: "/maro.pki.test.Probe/WhoAmI",
  requestStream: false,
  responseStream: false,
  requestSerialize: json,
  requestDeserialize: () => ({}),
  responseSerialize: json,
  responseDeserialize: (bytes: Buffer) => JSON.parse(bytes.toString("utf8")) as Seen,
};

function whoAmI(call: grpc.ServerUnaryCall<Record<string, never>, Seen>, callback: grpc.sendUnaryData<Seen>): void {
  const ctx = call.getAuthContext();
  const peer = ctx.sslPeerCertificate;
  callback(null, {
    authContextKeys: Object.keys(ctx),
    transportSecurityType: ctx.transportSecurityType ?? null,
    hasPeerCertificate: peer !== undefined,
    subject: peer ? { ...peer.subject } : null,
    identity: identityOfSubject(peer?.subject),
  });
}

let ca: CertBundle;
let master: CertBundle;
const clients: Record<"node" | "none" | "stranger", () => grpc.ChannelCredentials> = {
  node: () => assert.fail("not ready"),
  none: () => assert.fail("not ready"),
  stranger: () => assert.fail("not ready"),
};

before(async () => {
  ca = await devCa();
  master = await issueServerCert(ca, { clusterName: "dev", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const { csrPem, keyPem } = await createCsr({ kind: "node", name: "a" });
  const nodeCert = await signCsr(ca, csrPem, { kind: "node", name: "a" });
  const impostor = await issueClientCert(await strangerCa(), { kind: "node", name: "a" });
  const caBuf = Buffer.from(ca.certPem);
  clients.node = () => grpc.credentials.createSsl(caBuf, Buffer.from(keyPem), Buffer.from(nodeCert));
  clients.none = () => grpc.credentials.createSsl(caBuf);
  clients.stranger = () =>
    grpc.credentials.createSsl(caBuf, Buffer.from(impostor.keyPem), Buffer.from(impostor.certPem));
});

async function startServer(credentials: grpc.ServerCredentials): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService({ whoAmI: WHO_AM_I }, { whoAmI });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { server, port };
}

type Result = { ok: Seen } | { error: { code: grpc.status; details: string } };

function call(port: number, credentials: grpc.ChannelCredentials): Promise<Result> {
  const client = new grpc.Client(`127.0.0.1:${port}`, credentials);
  return new Promise<Result>((resolve) => {
    client.makeUnaryRequest(
      WHO_AM_I.path,
      WHO_AM_I.requestSerialize,
      WHO_AM_I.responseDeserialize,
      {},
      { deadline: Date.now() + 5000 },
      (err, value) => {
        client.close();
        if (err) resolve({ error: { code: err.code, details: err.details } });
        else resolve({ ok: value ?? assert.fail("no response") });
      },
    );
  });
}

const ANONYMOUS: Seen = {
  authContextKeys: [],
  transportSecurityType: null,
  hasPeerCertificate: false,
  subject: null,
  identity: null,
};

function servesAs(result: Result, identity: Identity): void {
  assert.ok("ok" in result, JSON.stringify(result));
  assert.deepEqual(result.ok.authContextKeys, ["transportSecurityType", "sslPeerCertificate"]);
  assert.equal(result.ok.transportSecurityType, "ssl");
  assert.deepEqual(result.ok.identity, identity);
  assert.deepEqual(result.ok.subject, { O: "maro:node", CN: "a" });
}

describe("grpc-js ServerCredentials.createSsl(ca, pairs, false)", () => {
  let s: { server: grpc.Server; port: number };
  before(async () => {
    s = await startServer(
      grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [
        { cert_chain: Buffer.from(master.certPem), private_key: Buffer.from(master.keyPem) },
      ]),
    );
  });
  after(() => s.server.forceShutdown());

  it("accepts a client without a certificate, and its auth context is {}", async () => {
    assert.deepEqual(await call(s.port, clients.none()), { ok: ANONYMOUS });
  });

  it("never even asks for the client certificate: a node's call is anonymous too", async () => {
    assert.deepEqual(await call(s.port, clients.node()), { ok: ANONYMOUS });
  });
});

describe("grpc-js ServerCredentials.createSsl(ca, pairs, true)", () => {
  let s: { server: grpc.Server; port: number };
  before(async () => {
    s = await startServer(
      grpc.ServerCredentials.createSsl(
        Buffer.from(ca.certPem),
        [{ cert_chain: Buffer.from(master.certPem), private_key: Buffer.from(master.keyPem) }],
        true,
      ),
    );
  });
  after(() => s.server.forceShutdown());

  it("a node certificate from signCsr maps to the node identity", async () => {
    servesAs(await call(s.port, clients.node()), { kind: "node", name: "a" });
  });

  it("a client without a certificate fails with UNAVAILABLE", async () => {
    const result = await call(s.port, clients.none());
    assert.ok("error" in result && result.error.code === grpc.status.UNAVAILABLE, JSON.stringify(result));
  });

  it("a client certificate from another CA fails with UNAVAILABLE", async () => {
    const result = await call(s.port, clients.stranger());
    assert.ok("error" in result && result.error.code === grpc.status.UNAVAILABLE, JSON.stringify(result));
  });
});

describe("grpc-js experimental.createCertificateProviderServerCredentials(p, p, false) + staticCertificateProvider", () => {
  let s: { server: grpc.Server; port: number };
  before(async () => {
    const provider = staticCertificateProvider(ca.certPem, master);
    s = await startServer(grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false));
  });
  after(() => s.server.forceShutdown());

  it("a node certificate maps to the node identity", async () => {
    servesAs(await call(s.port, clients.node()), { kind: "node", name: "a" });
  });

  it("a client without a certificate connects, and its auth context is {}", async () => {
    assert.deepEqual(await call(s.port, clients.none()), { ok: ANONYMOUS });
  });

  it("a client certificate from another CA connects as anonymous: its subject is not exposed", async () => {
    assert.deepEqual(await call(s.port, clients.stranger()), { ok: ANONYMOUS });
  });
});
