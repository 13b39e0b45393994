// A cluster PKI for the benchmarks: CA, master server certificate, admin
// certificate and one node certificate (own P-256 key, own name) per simulated
// node. Issuing costs ~5 ms a certificate, so they are kept in a cache under
// the system's temp dir and reused by later runs (same CA).
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { type CertBundle, createCa, issueClientCert, issueServerCert } from "@maro/pki";
import { loadCa } from "../../packages/pki/src/ca.js";
import { issueLeaf } from "../../packages/pki/src/issue.js";
import { generateP256KeyPair, privateKeyPem } from "../../packages/pki/src/keys.js";

export const BENCH_CLUSTER = "bench";

export interface NodeCert extends CertBundle {
  name: string;
}

export interface BenchPki {
  /** Holds ca.crt, ca.key, server.crt, server.key, as maro-master --tls-dir wants. */
  tlsDir: string;
  ca: CertBundle;
  admin: CertBundle;
  adminCreds(): ReturnType<typeof credentials.createSsl>;
  /** Certificates for node names `${prefix}-0` … `${prefix}-(count-1)`, issued as needed. */
  nodeCerts(count: number, prefix?: string): Promise<NodeCert[]>;
}

export async function benchPki(dir = join(tmpdir(), "maro-bench-pki-v1")): Promise<BenchPki> {
  const tlsDir = join(dir, "tls");
  const adminFile = join(dir, "admin.json");
  if (!existsSync(adminFile)) {
    mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    const ca = await createCa({ clusterName: BENCH_CLUSTER });
    const server = await issueServerCert(ca, {
      clusterName: BENCH_CLUSTER,
      dnsNames: ["maro-master", "localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    const admin = await issueClientCert(ca, { kind: "admin", name: "admin" });
    writeFileSync(join(tlsDir, "ca.crt"), ca.certPem);
    writeFileSync(join(tlsDir, "ca.key"), ca.keyPem, { mode: 0o600 });
    writeFileSync(join(tlsDir, "server.crt"), server.certPem);
    writeFileSync(join(tlsDir, "server.key"), server.keyPem, { mode: 0o600 });
    writeFileSync(adminFile, JSON.stringify(admin), { mode: 0o600 });
  }
  const ca: CertBundle = {
    certPem: readFileSync(join(tlsDir, "ca.crt"), "utf8"),
    keyPem: readFileSync(join(tlsDir, "ca.key"), "utf8"),
  };
  const admin = JSON.parse(readFileSync(adminFile, "utf8")) as CertBundle;
  return {
    tlsDir,
    ca,
    admin,
    adminCreds: () =>
      credentials.createSsl(Buffer.from(ca.certPem), Buffer.from(admin.keyPem), Buffer.from(admin.certPem)),
    nodeCerts: async (count, prefix = "sim") => {
      const file = join(dir, `nodes-${prefix}.jsonl`);
      const have: NodeCert[] = existsSync(file)
        ? readFileSync(file, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as NodeCert)
        : [];
      if (have.length < count) {
        const loaded = await loadCa(ca);
        const started = performance.now();
        let batch = "";
        for (let i = have.length; i < count; i++) {
          const keys = await generateP256KeyPair();
          const name = `${prefix}-${i}`;
          const certPem = await issueLeaf(loaded, {
            identity: { kind: "node", name },
            publicKey: keys.publicKey,
            server: false,
            validityDays: undefined,
            defaultDays: 825,
          });
          const cert: NodeCert = { name, certPem, keyPem: await privateKeyPem(keys.privateKey) };
          have.push(cert);
          batch += `${JSON.stringify(cert)}\n`;
          if (batch.length > 1_000_000 || i === count - 1) {
            appendFileSync(file, batch, { mode: 0o600 });
            batch = "";
          }
        }
        console.error(`issued ${count} node certificates in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      return have.slice(0, count);
    },
  };
}
