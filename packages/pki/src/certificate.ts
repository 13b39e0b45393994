// Reading certificates: parse, identity, fingerprint, expiry.

import { createHash } from "node:crypto";
import { PkiError } from "./errors.js";
import { type Identity, identityOfSubject } from "./identity.js";
import { assertOneDerSequence, pemDecode } from "./pem.js";
import * as x509 from "./x509.js";

export interface ParsedCertificate {
  der: Buffer;
  cert: x509.X509Certificate;
}

/** Parses the first CERTIFICATE block of `certPem`; throws PkiError for anything else. */
export function parseCertificate(certPem: unknown, what = "certificate"): ParsedCertificate {
  const der = pemDecode(certPem, "CERTIFICATE", what);
  assertOneDerSequence(der, what);
  try {
    const cert = new x509.X509Certificate(der);
    // Touch the lazily decoded fields so a malformed body fails here, not later.
    void cert.subjectName;
    void cert.notAfter;
    void cert.publicKey;
    return { der, cert };
  } catch {
    throw new PkiError(`${what}: not a valid X.509 certificate`);
  }
}

/** The identity the certificate's subject encodes (see identityOfSubject), or null; PkiError if it is not a certificate. */
export function identityOfCert(certPem: string): Identity | null {
  const { cert } = parseCertificate(certPem);
  const one = (values: string[]): string | string[] => (values.length === 1 ? (values[0] ?? "") : values);
  return identityOfSubject({ O: one(cert.subjectName.getField("O")), CN: one(cert.subjectName.getField("CN")) });
}

/** Lowercase hex SHA-256 of the certificate's DER (the first certificate of a chain). */
export function certFingerprint(certPem: string): string {
  return createHash("sha256").update(parseCertificate(certPem).der).digest("hex");
}

/** The certificate's notAfter. */
export function certExpiry(certPem: string): Date {
  return parseCertificate(certPem).cert.notAfter;
}
