import assert from "node:assert/strict";
import { createHash, createPrivateKey } from "node:crypto";
import { describe, it } from "node:test";
import {
  certExpiry,
  certFingerprint,
  createCa,
  identityOfCert,
  issueClientCert,
  issueServerCert,
  PkiError,
} from "../src/index.js";
import { CLIENT_AUTH, derOfPem, devCa, SERVER_AUTH, strangerCa, x509 } from "./helpers.js";

const DAY = 24 * 3600 * 1000;
const near = (actual: number, expected: number, slackMs = 10_000) =>
  assert.ok(
    Math.abs(actual - expected) < slackMs,
    `${new Date(actual).toISOString()} ≉ ${new Date(expected).toISOString()}`,
  );

describe("createCa", () => {
  it("makes a self-signed P-256 CA with CA:true pathLen 0 and keyCertSign + cRLSign", async () => {
    const ca = await devCa();
    const cert = x509(ca.certPem);
    assert.equal(cert.subject, "CN=maro cluster CA dev");
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey), "self-signed");
    assert.equal(cert.publicKey.asymmetricKeyType, "ec");
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const text = cert.toLegacyObject();
    assert.match(String(text.serialNumber), /^[0-9A-F]{32}$/, "16-byte positive serial");
    near(Date.parse(cert.validFrom), Date.now() - 5 * 60_000);
    near(Date.parse(cert.validTo), Date.now() + 3650 * DAY);
  });

  it("writes the key as unencrypted PKCS#8 PEM", async () => {
    const ca = await devCa();
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ca.keyPem);
    assert.equal(key.asymmetricKeyDetails?.namedCurve, "prime256v1");
  });

  it("refuses a cluster name that is not a DNS label and a nonsense validity", async () => {
    await assert.rejects(createCa({ clusterName: "Dev Cluster" }), PkiError);
    await assert.rejects(createCa({ clusterName: "-dev" }), PkiError);
    await assert.rejects(createCa({ clusterName: "a".repeat(64) }), PkiError);
    await assert.rejects(createCa({ clusterName: "dev", validityDays: 0 }), PkiError);
    await assert.rejects(createCa({ clusterName: "dev", validityDays: Number.NaN }), PkiError);
  });

  it("gives every certificate a different random serial", async () => {
    const ca = await devCa();
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { certPem } = await issueClientCert(ca, { kind: "admin", name: "admin" });
      serials.add(x509(certPem).serialNumber);
    }
    assert.equal(serials.size, 20);
  });
});

describe("issueServerCert", () => {
  it("issues the master certificate with DNS and IP SANs and serverAuth + clientAuth", async () => {
    const ca = await devCa();
    const server = await issueServerCert(ca, {
      clusterName: "dev",
      dnsNames: ["Master.Example.com", "localhost", "localhost"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const cert = x509(server.certPem);
    assert.equal(cert.subject, "O=maro:master\nCN=dev");
    assert.equal(
      cert.subjectAltName,
      "DNS:master.example.com, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    assert.deepEqual(cert.keyUsage, [SERVER_AUTH, CLIENT_AUTH]);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(x509(ca.certPem)));
    assert.ok(cert.verify(x509(ca.certPem).publicKey));
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkHost("evil.example.com"), undefined);
    assert.deepEqual(identityOfCert(server.certPem), { kind: "master", name: "dev" });
    near(certExpiry(server.certPem).getTime(), Date.now() + 825 * DAY);
  });

  it("refuses bad names and addresses, and a certificate with no name at all", async () => {
    const ca = await devCa();
    const base = { clusterName: "dev", dnsNames: ["localhost"], ipAddresses: [] };
    await assert.rejects(issueServerCert(ca, { ...base, dnsNames: [] }), /at least one DNS name or IP address/);
    await assert.rejects(issueServerCert(ca, { ...base, dnsNames: ["*.example.com"] }), PkiError);
    await assert.rejects(issueServerCert(ca, { ...base, dnsNames: ["a..b"] }), PkiError);
    await assert.rejects(issueServerCert(ca, { ...base, ipAddresses: ["300.1.1.1"] }), PkiError);
    await assert.rejects(issueServerCert(ca, { ...base, clusterName: "DEV" }), PkiError);
  });

  it("does not let a leaf outlive its CA", async () => {
    const shortCa = await createCa({ clusterName: "dev", validityDays: 10 });
    const server = await issueServerCert(shortCa, { clusterName: "dev", dnsNames: ["localhost"], ipAddresses: [] });
    assert.equal(certExpiry(server.certPem).getTime(), certExpiry(shortCa.certPem).getTime());
  });
});

describe("issueClientCert", () => {
  it("issues a clientAuth-only certificate for the identity", async () => {
    const ca = await devCa();
    const admin = await issueClientCert(ca, { kind: "admin", name: "admin" }, { validityDays: 30 });
    const cert = x509(admin.certPem);
    assert.equal(cert.subject, "O=maro:admin\nCN=admin");
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.equal(cert.subjectAltName, undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(admin.keyPem)));
    assert.deepEqual(identityOfCert(admin.certPem), { kind: "admin", name: "admin" });
    near(certExpiry(admin.certPem).getTime(), Date.now() + 30 * DAY);
  });

  it("refuses names that are not DNS labels and kinds that are not ours", async () => {
    const ca = await devCa();
    for (const name of ["", "Admin", "a_b", "a.b", "-a", "a-", "a".repeat(64), "ä"]) {
      await assert.rejects(issueClientCert(ca, { kind: "admin", name }), PkiError, name);
    }
    const notAKind = JSON.parse('{"kind":"root","name":"x"}');
    await assert.rejects(issueClientCert(ca, notAKind), PkiError);
  });

  it("refuses a CA bundle whose key is not the CA's, a leaf posing as CA, and garbage", async () => {
    const ca = await devCa();
    const other = await strangerCa();
    await assert.rejects(issueClientCert({ certPem: ca.certPem, keyPem: other.keyPem }, { kind: "admin", name: "a" }), {
      name: "PkiError",
      message: /does not belong to the CA certificate/,
    });
    const leaf = await issueClientCert(ca, { kind: "admin", name: "a" });
    await assert.rejects(issueClientCert(leaf, { kind: "admin", name: "a" }), /not a CA/);
    await assert.rejects(
      issueClientCert({ certPem: "nope", keyPem: ca.keyPem }, { kind: "admin", name: "a" }),
      PkiError,
    );
    await assert.rejects(
      issueClientCert({ certPem: ca.certPem, keyPem: "nope" }, { kind: "admin", name: "a" }),
      PkiError,
    );
  });
});

describe("reading certificates", () => {
  it("certFingerprint is the sha256 of the DER, and accepts a chain (first certificate)", async () => {
    const ca = await devCa();
    const expected = createHash("sha256").update(derOfPem(ca.certPem)).digest("hex");
    assert.equal(certFingerprint(ca.certPem), expected);
    const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
    assert.equal(certFingerprint(admin.certPem + ca.certPem), certFingerprint(admin.certPem));
    assert.equal(x509(ca.certPem).fingerprint256.replaceAll(":", "").toLowerCase(), expected);
  });

  it("identityOfCert is null for certificates that are not ours, PkiError for non-certificates", async () => {
    const ca = await devCa();
    assert.equal(identityOfCert(ca.certPem), null);
    for (const garbage of ["", "hello", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----", ca.keyPem]) {
      assert.throws(() => identityOfCert(garbage), PkiError);
      assert.throws(() => certFingerprint(garbage), PkiError);
      assert.throws(() => certExpiry(garbage), PkiError);
    }
    const truncated = `-----BEGIN CERTIFICATE-----\n${derOfPem(ca.certPem).subarray(0, 100).toString("base64")}\n-----END CERTIFICATE-----\n`;
    assert.throws(() => identityOfCert(truncated), PkiError);
  });
});
