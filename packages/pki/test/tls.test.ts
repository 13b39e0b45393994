// Real handshakes with node:tls: the certificates work as issued, and the wrong ones are refused.

import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import {
  type CertBundle,
  createCsr,
  type Identity,
  identityOfSubject,
  issueClientCert,
  issueServerCert,
  signCsr,
} from "../src/index.js";
import { devCa, strangerCa } from "./helpers.js";

interface Outcome {
  /** What the server wrote back: the identity it derived from the peer certificate. */
  reply?: string;
  clientError?: string;
  /** Errors the server saw for this connection (handshake or verification). */
  serverErrors: string[];
}

let ca: CertBundle;
let stranger: CertBundle;
let server: tls.Server;
let port: number;
const serverErrors: string[] = [];

before(async () => {
  ca = await devCa();
  stranger = await strangerCa();
  const master = await issueServerCert(ca, { clusterName: "dev", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  server = tls.createServer({
    key: master.keyPem,
    cert: master.certPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on("secureConnection", (socket) => {
    const identity: Identity | null = identityOfSubject(socket.getPeerCertificate().subject);
    socket.end(`${JSON.stringify({ authorized: socket.authorized, identity })}\n`);
  });
  server.on("tlsClientError", (err) => serverErrors.push(err.message));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function connect(options: tls.ConnectionOptions): Promise<Outcome> {
  const errorsBefore = serverErrors.length;
  return new Promise((resolve) => {
    let reply = "";
    let clientError: string | undefined;
    const socket = tls.connect({ host: "127.0.0.1", port, ...options });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      reply += chunk;
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      clientError = err.code ?? err.message;
    });
    socket.on("close", () =>
      // Let the server's error event land before reporting.
      setImmediate(() =>
        resolve({
          ...(reply ? { reply: reply.trim() } : {}),
          ...(clientError ? { clientError } : {}),
          serverErrors: serverErrors.slice(errorsBefore),
        }),
      ),
    );
  });
}

describe("node:tls with the cluster PKI", () => {
  it("an admin client and the master authenticate each other; the server maps the peer to admin", async () => {
    const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
    const outcome = await connect({ ca: ca.certPem, key: admin.keyPem, cert: admin.certPem });
    assert.equal(outcome.clientError, undefined);
    assert.deepEqual(JSON.parse(outcome.reply ?? "null"), {
      authorized: true,
      identity: { kind: "admin", name: "admin" },
    });
  });

  it("a node certificate from a signed CSR works too, also when dialling by DNS name", async () => {
    const { csrPem, keyPem } = await createCsr({ kind: "node", name: "gpu-01" });
    const cert = await signCsr(ca, csrPem, { kind: "node", name: "gpu-01" });
    const outcome = await connect({ host: "localhost", servername: "localhost", ca: ca.certPem, key: keyPem, cert });
    assert.deepEqual(JSON.parse(outcome.reply ?? "null").identity, { kind: "node", name: "gpu-01" });
  });

  it("the server refuses a client certificate from another CA", async () => {
    const impostor = await issueClientCert(stranger, { kind: "admin", name: "admin" });
    const outcome = await connect({ ca: ca.certPem, key: impostor.keyPem, cert: impostor.certPem });
    assert.equal(outcome.reply, undefined, "no application data for the impostor");
    assert.ok(outcome.clientError !== undefined || outcome.serverErrors.length > 0, JSON.stringify(outcome));
  });

  it("the server refuses a client without a certificate", async () => {
    const outcome = await connect({ ca: ca.certPem });
    assert.equal(outcome.reply, undefined);
    assert.equal(outcome.clientError, "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
  });

  it("a client trusting another CA refuses the master", async () => {
    const admin = await issueClientCert(stranger, { kind: "admin", name: "admin" });
    const outcome = await connect({ ca: stranger.certPem, key: admin.keyPem, cert: admin.certPem });
    assert.equal(outcome.reply, undefined);
    // Both CAs are named "maro cluster CA dev": OpenSSL finds the stranger by name, then the signature fails.
    assert.ok(outcome.clientError !== undefined, JSON.stringify(outcome));
  });

  it("a client refuses the master under a name the certificate does not carry", async () => {
    const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
    const outcome = await connect({
      servername: "evil.example.com",
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity("evil.example.com", cert),
      ca: ca.certPem,
      key: admin.keyPem,
      cert: admin.certPem,
    });
    assert.equal(outcome.reply, undefined);
    assert.equal(outcome.clientError, "ERR_TLS_CERT_ALTNAME_INVALID");
  });
});

describe("a leaked client certificate cannot pose as the master", () => {
  let fake: tls.Server;
  let fakePort: number;

  before(async () => {
    // A node certificate (EKU clientAuth only) used as a server certificate.
    const { csrPem, keyPem } = await createCsr({ kind: "node", name: "localhost" });
    const nodeCert: CertBundle = { certPem: await signCsr(ca, csrPem, { kind: "node", name: "localhost" }), keyPem };
    fake = tls.createServer({ key: nodeCert.keyPem, cert: nodeCert.certPem }, (socket) => socket.end("hello\n"));
    fake.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    fakePort = (fake.address() as AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => fake.close(() => resolve())));

  it("is refused by a client trusting the cluster CA (unsuitable certificate purpose)", async () => {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = tls.connect({ host: "127.0.0.1", port: fakePort, servername: "localhost", ca: ca.certPem });
      socket.on("secureConnect", () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.on("error", resolve);
    });
    assert.equal(err?.code, "INVALID_PURPOSE");
  });
});
