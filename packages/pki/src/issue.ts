// Issuing leaf certificates from the cluster CA: the master's server certificate and client certificates.

import { isIP } from "node:net";
import { type CertBundle, type LoadedCa, loadCa } from "./ca.js";
import { PkiError } from "./errors.js";
import { checkIdentity, type Identity, isDnsLabel, subjectOf } from "./identity.js";
import { generateP256KeyPair, privateKeyPem, SIGNING_ALGORITHM, webCrypto } from "./keys.js";
import { randomSerialNumber, validity } from "./validity.js";
import * as x509 from "./x509.js";

export const SERVER_VALIDITY_DAYS = 825;
export const CLIENT_VALIDITY_DAYS = 825;

const EKU_SERVER = "1.3.6.1.5.5.7.3.1";
const EKU_CLIENT = "1.3.6.1.5.5.7.3.2";

export interface LeafRequest {
  identity: Identity;
  /** The subject's public key: a DER SubjectPublicKeyInfo or a WebCrypto public key. */
  publicKey: x509.PublicKeyType;
  server: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  validityDays: number | undefined;
  defaultDays: number;
}

/** Signs one leaf certificate: CA:false, keyUsage digitalSignature, EKU clientAuth (+ serverAuth for a server). */
export async function issueLeaf(ca: LoadedCa, req: LeafRequest): Promise<string> {
  const { notBefore, notAfter } = validity(req.validityDays, req.defaultDays, ca.cert.notAfter);
  const sans: x509.JsonGeneralNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(req.server ? [EKU_SERVER, EKU_CLIENT] : [EKU_CLIENT], false),
    await x509.SubjectKeyIdentifierExtension.create(req.publicKey, false, webCrypto),
    new x509.AuthorityKeyIdentifierExtension(ca.keyId, false),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans, false));
  try {
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerialNumber(),
        subject: subjectOf(req.identity),
        issuer: ca.cert.subjectName,
        notBefore,
        notAfter,
        publicKey: req.publicKey,
        signingKey: ca.key,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions,
      },
      webCrypto,
    );
    return cert.toString("pem");
  } catch (err) {
    throw new PkiError(`could not sign the certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkDnsName(name: unknown): string {
  const lower = typeof name === "string" ? name.toLowerCase() : "";
  if (lower.length === 0 || lower.length > 253 || !lower.split(".").every(isDnsLabel)) {
    const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 80)) : typeof name;
    throw new PkiError(`DNS name ${shown} is not a host name (dot-separated DNS labels, no wildcards)`);
  }
  return lower;
}

function checkIpAddress(ip: unknown): string {
  if (typeof ip !== "string" || isIP(ip) === 0) {
    const shown = typeof ip === "string" ? JSON.stringify(ip.slice(0, 80)) : typeof ip;
    throw new PkiError(`IP address ${shown} is not an IPv4 or IPv6 address`);
  }
  return ip;
}

function list(value: unknown, what: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new PkiError(`${what} must be an array`);
  return value;
}

/**
 * The master's server certificate: identity { kind: "master", name: clusterName }, SANs for every DNS name and IP
 * address clients dial, EKU serverAuth + clientAuth. New P-256 key.
 */
export async function issueServerCert(
  ca: CertBundle,
  opts: { clusterName: string; dnsNames: string[]; ipAddresses: string[]; validityDays?: number },
): Promise<CertBundle> {
  const identity = checkIdentity({ kind: "master", name: opts.clusterName });
  const dnsNames = [...new Set(list(opts.dnsNames, "dnsNames").map(checkDnsName))];
  const ipAddresses = [...new Set(list(opts.ipAddresses, "ipAddresses").map(checkIpAddress))];
  if (dnsNames.length + ipAddresses.length === 0) {
    throw new PkiError("a server certificate needs at least one DNS name or IP address");
  }
  const loaded = await loadCa(ca);
  const keys = await generateP256KeyPair();
  const certPem = await issueLeaf(loaded, {
    identity,
    publicKey: keys.publicKey,
    server: true,
    dnsNames,
    ipAddresses,
    validityDays: opts.validityDays,
    defaultDays: SERVER_VALIDITY_DAYS,
  });
  return { certPem, keyPem: await privateKeyPem(keys.privateKey) };
}

/** A client certificate for `identity` (e.g. the CLI's admin certificate): EKU clientAuth, new P-256 key. */
export async function issueClientCert(
  ca: CertBundle,
  identity: Identity,
  opts?: { validityDays?: number },
): Promise<CertBundle> {
  const checked = checkIdentity(identity);
  const loaded = await loadCa(ca);
  const keys = await generateP256KeyPair();
  const certPem = await issueLeaf(loaded, {
    identity: checked,
    publicKey: keys.publicKey,
    server: false,
    validityDays: opts?.validityDays,
    defaultDays: CLIENT_VALIDITY_DAYS,
  });
  return { certPem, keyPem: await privateKeyPem(keys.privateKey) };
}
