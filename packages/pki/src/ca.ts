// The cluster CA: a self-signed ECDSA P-256 certificate that signs every other certificate of the cluster.

import { parseCertificate } from "./certificate.js";
import { PkiError } from "./errors.js";
import { assertDnsLabel } from "./identity.js";
import {
  type CryptoKey,
  generateP256KeyPair,
  importP256SigningKey,
  privateKeyPem,
  SIGNING_ALGORITHM,
  webCrypto,
} from "./keys.js";
import { randomSerialNumber, validity } from "./validity.js";
import * as x509 from "./x509.js";

/** A certificate and its private key. `keyPem` is PKCS#8 PEM, usable by node:tls and @grpc/grpc-js. */
export interface CertBundle {
  certPem: string;
  keyPem: string;
}

export const CA_VALIDITY_DAYS = 3650;

export function caCommonName(clusterName: string): string {
  return `maro cluster CA ${clusterName}`;
}

/** A new cluster CA: basicConstraints CA:true pathLen 0, keyUsage keyCertSign + cRLSign, CN "maro cluster CA <cluster>". */
export async function createCa(opts: { clusterName: string; validityDays?: number }): Promise<CertBundle> {
  assertDnsLabel(opts.clusterName, "cluster name");
  const { notBefore, notAfter } = validity(opts.validityDays, CA_VALIDITY_DAYS);
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: [{ CN: [caCommonName(opts.clusterName)] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webCrypto),
      ],
    },
    webCrypto,
  );
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) };
}

export interface LoadedCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
  /** Key identifier for the AuthorityKeyIdentifier of issued certificates (hex). */
  keyId: string;
}

/** Checks that `ca` is a usable CA bundle (a CA certificate, not expired, with its own P-256 key) and loads it. */
export async function loadCa(ca: CertBundle): Promise<LoadedCa> {
  if (ca === null || typeof ca !== "object") throw new PkiError("CA bundle: expected { certPem, keyPem }");
  const { cert } = parseCertificate(ca.certPem, "CA certificate");
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  if (constraints === null || !constraints.ca)
    throw new PkiError("CA certificate: not a CA (basicConstraints CA:false)");
  if (cert.notAfter.getTime() <= Date.now()) {
    throw new PkiError(`CA certificate: expired at ${cert.notAfter.toISOString()}`);
  }
  const signing = await importP256SigningKey(ca.keyPem, "CA key");
  if (!signing.spki.equals(Buffer.from(cert.publicKey.rawData))) {
    throw new PkiError("CA key: does not belong to the CA certificate");
  }
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski?.keyId ?? Buffer.from(await cert.publicKey.getKeyIdentifier(webCrypto)).toString("hex");
  return { cert, key: signing.key, keyId };
}
