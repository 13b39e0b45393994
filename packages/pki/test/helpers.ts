// Shared fixtures: CAs are made once per test file (each file runs in its own process).

import { X509Certificate } from "node:crypto";
import { type CertBundle, createCa } from "../src/index.js";

let clusterCa: Promise<CertBundle> | undefined;
let otherCa: Promise<CertBundle> | undefined;

/** The CA of cluster "dev". */
export function devCa(): Promise<CertBundle> {
  clusterCa ??= createCa({ clusterName: "dev" });
  return clusterCa;
}

/** An unrelated CA (same cluster name, different key): nothing it signs may be trusted by "dev". */
export function strangerCa(): Promise<CertBundle> {
  otherCa ??= createCa({ clusterName: "dev" });
  return otherCa;
}

export function x509(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

/** Extended key usage OIDs of a certificate. */
export const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
export const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

/** Replaces the first occurrence of `from` in `der` with `to` (same length); throws if absent. */
export function patchBytes(der: Buffer, from: Buffer, to: Buffer): Buffer {
  const at = der.indexOf(from);
  if (at < 0 || from.length !== to.length) throw new Error("patch target not found");
  const copy = Buffer.from(der);
  to.copy(copy, at);
  return copy;
}

export function derOfPem(pem: string): Buffer {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Buffer.from(body, "base64");
}

export function pemOfDer(der: Buffer, label: string): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
