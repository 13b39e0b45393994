// Certificate signing requests: the agent makes its own key and asks; the master checks and signs.

import { createPublicKey, type KeyObject } from "node:crypto";
import { type CertBundle, loadCa } from "./ca.js";
import { PkiError } from "./errors.js";
import { checkIdentity, formatIdentity, type Identity, subjectAttributes, subjectOf } from "./identity.js";
import { CLIENT_VALIDITY_DAYS, issueLeaf } from "./issue.js";
import { generateP256KeyPair, isP256, privateKeyPem, SIGNING_ALGORITHM, webCrypto } from "./keys.js";
import { assertOneDerSequence, pemDecode, pemEncode } from "./pem.js";
import * as x509 from "./x509.js";

/** A CSR larger than this is refused before parsing (ours are about 500 characters). */
export const MAX_CSR_PEM_CHARS = 16 * 1024;

const CSR_LABEL = "CERTIFICATE REQUEST";
const ACCEPTED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

/** Agent side: a new P-256 key and a PKCS#10 CSR, signed with it, whose subject encodes `identity`. */
export async function createCsr(identity: Identity): Promise<{ csrPem: string; keyPem: string }> {
  const checked = checkIdentity(identity);
  const keys = await generateP256KeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: subjectOf(checked), keys, signingAlgorithm: SIGNING_ALGORITHM },
    webCrypto,
  );
  return { csrPem: pemEncode(CSR_LABEL, new Uint8Array(csr.rawData)), keyPem: await privateKeyPem(keys.privateKey) };
}

function parseCsr(csrPem: unknown): x509.Pkcs10CertificateRequest {
  if (typeof csrPem === "string" && csrPem.length > MAX_CSR_PEM_CHARS) {
    throw new PkiError(`CSR: too large (${csrPem.length} characters, at most ${MAX_CSR_PEM_CHARS})`);
  }
  const der = pemDecode(csrPem, CSR_LABEL, "CSR");
  assertOneDerSequence(der, "CSR");
  try {
    const csr = new x509.Pkcs10CertificateRequest(der);
    void csr.subjectName;
    void csr.publicKey;
    return csr;
  } catch {
    throw new PkiError("CSR: not a valid PKCS#10 certificate request");
  }
}

/** Every (attribute, value) of the subject, flattened; e.g. [["O","maro:node"],["CN","a"]]. */
function subjectPairs(csr: x509.Pkcs10CertificateRequest): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const rdn of csr.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      for (const value of values) pairs.push([type, value]);
    }
  }
  return pairs;
}

/** For messages: `"O=maro:node, CN=a"`, quoted and escaped (the CSR is untrusted input), at most ~200 characters. */
function describeSubject(pairs: Array<[string, string]>): string {
  return JSON.stringify(pairs.map(([type, value]) => `${type}=${value}`).join(", ")).slice(0, 200);
}

async function checkSignature(csr: x509.Pkcs10CertificateRequest): Promise<void> {
  let ok = false;
  try {
    // Typed here: @peculiar/x509's `Algorithm` is a DOM type, unresolved without the DOM lib.
    const alg: { name?: unknown; hash?: unknown } = csr.signatureAlgorithm;
    const hash = typeof alg.hash === "object" && alg.hash !== null && "name" in alg.hash ? alg.hash.name : alg.hash;
    if (alg.name !== "ECDSA" || typeof hash !== "string" || !ACCEPTED_HASHES.has(hash)) {
      throw new PkiError("CSR: signature algorithm must be ECDSA with SHA-256, SHA-384 or SHA-512");
    }
    ok = await csr.verify(webCrypto);
  } catch (err) {
    if (err instanceof PkiError) throw err;
    ok = false;
  }
  if (!ok) throw new PkiError("CSR: the signature does not verify (corrupted, or not signed by its own key)");
}

/**
 * Master side: checks a CSR and issues a clientAuth certificate for `expected`.
 * Refuses (PkiError) unless the CSR parses, carries a P-256 EC key, is validly self-signed, and its subject is
 * exactly O = "maro:<kind>", CN = <name> of `expected`. Extensions the CSR asks for are ignored.
 */
export async function signCsr(
  ca: CertBundle,
  csrPem: string,
  expected: Identity,
  opts?: { validityDays?: number },
): Promise<string> {
  const want = checkIdentity(expected);
  const csr = parseCsr(csrPem);

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
  } catch {
    throw new PkiError("CSR: unreadable public key");
  }
  if (!isP256(publicKey)) {
    const type = publicKey.asymmetricKeyType ?? "unknown";
    const curve = publicKey.asymmetricKeyDetails?.namedCurve;
    throw new PkiError(`CSR: key must be ECDSA P-256, got ${type}${curve === undefined ? "" : ` ${curve}`}`);
  }
  await checkSignature(csr);

  const pairs = subjectPairs(csr);
  const wanted = subjectAttributes(want);
  const matches =
    pairs.length === wanted.length &&
    wanted.every(([type, value]) => pairs.some(([t, v]) => t === type && v === value));
  if (!matches) {
    throw new PkiError(
      `CSR subject ${describeSubject(pairs)} is not ${formatIdentity(want)} (expected ${describeSubject(wanted)})`,
    );
  }

  const loaded = await loadCa(ca);
  return issueLeaf(loaded, {
    identity: want,
    publicKey: publicKey.export({ format: "der", type: "spki" }),
    server: false,
    validityDays: opts?.validityDays,
    defaultDays: CLIENT_VALIDITY_DAYS,
  });
}
