import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import {
  type CertBundle,
  createCa,
  createCsr,
  type Identity,
  issueClientCert,
  issueServerCert,
  signCsr,
} from "@maro/pki";

/** A cluster PKI for tests, laid out as maro-master --tls-dir expects. */
export interface TestPki {
  ca: CertBundle;
  admin: CertBundle;
  tlsDir: string;
  /** A node certificate as the master would issue on join. */
  nodeCert(name: string): Promise<CertBundle>;
  /** Credentials for a client presenting `bundle` (or none). */
  creds(bundle?: CertBundle): ReturnType<typeof credentials.createSsl>;
}

export async function makeTestPki(dir: string, clusterName: string): Promise<TestPki> {
  const ca = await createCa({ clusterName });
  const server = await issueServerCert(ca, {
    clusterName,
    dnsNames: ["maro-master", "localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
  const tlsDir = join(dir, "tls");
  mkdirSync(tlsDir, { recursive: true });
  writeFileSync(join(tlsDir, "ca.crt"), ca.certPem);
  writeFileSync(join(tlsDir, "ca.key"), ca.keyPem, { mode: 0o600 });
  writeFileSync(join(tlsDir, "server.crt"), server.certPem);
  writeFileSync(join(tlsDir, "server.key"), server.keyPem, { mode: 0o600 });
  return {
    ca,
    admin,
    tlsDir,
    nodeCert: async (name: string) => {
      const identity: Identity = { kind: "node", name };
      const { csrPem, keyPem } = await createCsr(identity);
      return { keyPem, certPem: await signCsr(ca, csrPem, identity) };
    },
    creds: (bundle?: CertBundle) =>
      bundle
        ? credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(bundle.keyPem), Buffer.from(bundle.certPem))
        : credentials.createSsl(Buffer.from(ca.certPem)),
  };
}
