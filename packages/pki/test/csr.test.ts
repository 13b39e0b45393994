import assert from "node:assert/strict";
import { createPrivateKey, webcrypto } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createCsr, identityOfCert, PkiError, signCsr } from "../src/index.js";
// Through src/x509.js, which loads the Reflect polyfill @peculiar/x509 needs.
import * as x509lib from "../src/x509.js";
import { CLIENT_AUTH, derOfPem, devCa, patchBytes, pemOfDer, strangerCa, x509 } from "./helpers.js";

const NODE_A = { kind: "node", name: "a" } as const;

/** A CSR made with another key type, to check that signCsr refuses it. */
async function foreignCsr(
  algorithm: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams,
  signingAlgorithm: { name: string; hash?: string },
): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const csr = await x509lib.Pkcs10CertificateRequestGenerator.create(
    { name: [{ O: ["maro:node"] }, { CN: ["a"] }], keys, signingAlgorithm },
    webcrypto,
  );
  return csr.toString("pem");
}
async function rejection(promise: Promise<unknown>): Promise<PkiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PkiError, `expected PkiError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a rejection");
}

describe("createCsr", () => {
  it("makes a P-256 key and a self-signed CSR whose subject is the identity", async () => {
    const { csrPem, keyPem } = await createCsr(NODE_A);
    assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(createPrivateKey(keyPem).asymmetricKeyDetails?.namedCurve, "prime256v1");
    const csr = new x509lib.Pkcs10CertificateRequest(csrPem);
    assert.equal(csr.subject, "O=maro:node, CN=a");
    assert.ok(await csr.verify(webcrypto));
  });

  it("refuses names that are not DNS labels", async () => {
    await assert.rejects(createCsr({ kind: "node", name: "A" }), PkiError);
    await assert.rejects(createCsr({ kind: "node", name: "a/../b" }), PkiError);
  });
});

describe("signCsr", () => {
  it("issues a clientAuth certificate for the expected identity, on the CSR's key", async () => {
    const ca = await devCa();
    const { csrPem, keyPem } = await createCsr(NODE_A);
    const certPem = await signCsr(ca, csrPem, NODE_A, { validityDays: 7 });
    const cert = x509(certPem);
    assert.equal(cert.subject, "O=maro:node\nCN=a");
    assert.deepEqual(cert.keyUsage, [CLIENT_AUTH]);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
    assert.ok(cert.verify(x509(ca.certPem).publicKey));
    assert.deepEqual(identityOfCert(certPem), NODE_A);
  });

  it("refuses a CSR for another name or another kind", async () => {
    const ca = await devCa();
    const forB = await createCsr({ kind: "node", name: "b" });
    const err = await rejection(signCsr(ca, forB.csrPem, NODE_A));
    assert.match(err.message, /O=maro:node, CN=b/);
    assert.match(err.message, /node "a"/);
    const asAdmin = await createCsr({ kind: "admin", name: "a" });
    await rejection(signCsr(ca, asAdmin.csrPem, NODE_A));
  });

  it("refuses a subject with extra or missing attributes", async () => {
    const ca = await devCa();
    const keys = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const signingAlgorithm = { name: "ECDSA", hash: "SHA-256" };
    const names: x509lib.JsonName[] = [
      [{ O: ["maro:node"] }, { OU: ["x"] }, { CN: ["a"] }],
      [{ O: ["maro:node"] }, { CN: ["a"] }, { CN: ["a"] }],
      [{ O: ["maro:node", "maro:admin"] }, { CN: ["a"] }],
      [{ CN: ["a"] }],
      [],
    ];
    for (const name of names) {
      const csr = await x509lib.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm }, webcrypto);
      await rejection(signCsr(ca, csr.toString("pem"), NODE_A));
    }
  });

  it("refuses RSA and non-P-256 EC keys", async () => {
    const ca = await devCa();
    const rsa = await foreignCsr(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      { name: "RSASSA-PKCS1-v1_5" },
    );
    assert.match((await rejection(signCsr(ca, rsa, NODE_A))).message, /must be ECDSA P-256, got rsa/);
    const p384 = await foreignCsr({ name: "ECDSA", namedCurve: "P-384" }, { name: "ECDSA", hash: "SHA-384" });
    assert.match((await rejection(signCsr(ca, p384, NODE_A))).message, /must be ECDSA P-256, got ec secp384r1/);
  });

  it("refuses a CSR whose signature does not verify (tampered bytes)", async () => {
    const ca = await devCa();
    const { csrPem } = await createCsr(NODE_A);
    const der = derOfPem(csrPem);
    // 1. Flip the last byte of the signature.
    const sig = Buffer.from(der);
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
    assert.match((await rejection(signCsr(ca, pemOfDer(sig, "CERTIFICATE REQUEST"), NODE_A))).message, /signature/);
    // 2. Rewrite the signed subject from CN=b to CN=a: same length, signature now covers other bytes.
    const forB = derOfPem((await createCsr({ kind: "node", name: "b" })).csrPem);
    const cnB = Buffer.from([0x55, 0x04, 0x03, 0x13, 0x01, 0x62]); // OID 2.5.4.3, PrintableString "b"
    const cnA = Buffer.from([0x55, 0x04, 0x03, 0x13, 0x01, 0x61]);
    const relabelled = pemOfDer(patchBytes(forB, cnB, cnA), "CERTIFICATE REQUEST");
    assert.match((await rejection(signCsr(ca, relabelled, NODE_A))).message, /signature does not verify/);
    // 3. Swap in another key: the self-signature no longer matches.
    const other = derOfPem((await createCsr(NODE_A)).csrPem);
    const spkiAt = (d: Buffer) => d.indexOf(Buffer.from([0x30, 0x59, 0x30, 0x13]));
    const swapped = Buffer.from(der);
    other.copy(swapped, spkiAt(der), spkiAt(other), spkiAt(other) + 91);
    assert.match((await rejection(signCsr(ca, pemOfDer(swapped, "CERTIFICATE REQUEST"), NODE_A))).message, /signature/);
  });

  it("refuses garbage with PkiError", async () => {
    const ca = await devCa();
    const { csrPem } = await createCsr(NODE_A);
    const der = derOfPem(csrPem);
    const garbage: unknown[] = [
      "",
      "garbage",
      ca.certPem,
      "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----",
      "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!\n-----END CERTIFICATE REQUEST-----",
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n",
      pemOfDer(der.subarray(0, der.length - 10), "CERTIFICATE REQUEST"),
      pemOfDer(Buffer.concat([der, Buffer.from([0])]), "CERTIFICATE REQUEST"),
      pemOfDer(Buffer.alloc(200, 0x30), "CERTIFICATE REQUEST"),
      `${"x".repeat(20_000)}${csrPem}`,
      null,
      42,
    ];
    for (const input of garbage) await rejection(signCsr(ca, input as string, NODE_A));
  });

  it("never throws anything but PkiError on mutated CSRs (property)", async () => {
    const ca = await devCa();
    const der = derOfPem((await createCsr(NODE_A)).csrPem);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat({ max: der.length }),
        async (edits, cut) => {
          const mutated = Buffer.from(der.subarray(0, Math.max(cut, 1)));
          for (const [at, byte] of edits) if (at < mutated.length) mutated[at] = byte;
          try {
            const cert = await signCsr(ca, pemOfDer(mutated, "CERTIFICATE REQUEST"), NODE_A);
            // Only a mutation that changes nothing signed (e.g. a no-op edit) may succeed.
            assert.deepEqual(identityOfCert(cert), NODE_A);
          } catch (err) {
            assert.ok(err instanceof PkiError, String(err));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses to sign with a CA that is not the bundle's", async () => {
    const ca = await devCa();
    const other = await strangerCa();
    const { csrPem } = await createCsr(NODE_A);
    await rejection(signCsr({ certPem: ca.certPem, keyPem: other.keyPem }, csrPem, NODE_A));
  });
});
