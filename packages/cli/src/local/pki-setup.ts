import { join } from "node:path";
import { createCa, issueClientCert, issueServerCert } from "@maro/pki";
import { MASTER_TLS_NAME } from "@maro/proto";
import { RECORD_FILES, writeSecret } from "../home.js";

/** The master's TLS directory layout (read by maro-master --tls-dir). */
export const MASTER_TLS_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  serverCert: "server.crt",
  serverKey: "server.key",
};

/**
 * Makes the cluster's PKI: a CA, the master's server certificate for its
 * addresses, and the CLI's admin certificate. The CA key goes only to the
 * master's TLS directory; the CLI keeps the CA certificate and its own pair.
 */
export async function createClusterPki(options: {
  clusterName: string;
  recordDir: string;
  masterTlsDir: string;
  masterAddresses: string[];
}): Promise<void> {
  const ca = await createCa({ clusterName: options.clusterName });
  const ips = options.masterAddresses.filter((a) => /^[\d.]+$|:/.test(a));
  const names = options.masterAddresses.filter((a) => !ips.includes(a));
  const server = await issueServerCert(ca, {
    clusterName: options.clusterName,
    dnsNames: [MASTER_TLS_NAME, "localhost", ...names],
    ipAddresses: ips,
  });
  const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
  const m = (f: string) => join(options.masterTlsDir, f);
  writeSecret(m(MASTER_TLS_FILES.caCert), ca.certPem);
  writeSecret(m(MASTER_TLS_FILES.caKey), ca.keyPem);
  writeSecret(m(MASTER_TLS_FILES.serverCert), server.certPem);
  writeSecret(m(MASTER_TLS_FILES.serverKey), server.keyPem);
  const r = (f: string) => join(options.recordDir, f);
  writeSecret(r(RECORD_FILES.caCert), ca.certPem);
  writeSecret(r(RECORD_FILES.adminCert), admin.certPem);
  writeSecret(r(RECORD_FILES.adminKey), admin.keyPem);
}
