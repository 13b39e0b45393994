import { readFileSync } from "node:fs";
import { join } from "node:path";
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import { type CertBundle, staticCertificateProvider } from "@maro/pki";

/** The master's TLS material, as `maro grass create` lays it out in the TLS directory. */
export interface MasterTls {
  ca: CertBundle;
  server: CertBundle;
}

export const TLS_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  serverCert: "server.crt",
  serverKey: "server.key",
} as const;

export function loadMasterTls(dir: string): MasterTls {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name), "utf8");
    } catch (err) {
      throw new Error(
        `cannot read ${join(dir, name)} (${(err as NodeJS.ErrnoException).code ?? String(err)}); --tls-dir must hold ${Object.values(TLS_FILES).join(", ")} as made by \`maro grass create\``,
      );
    }
  };
  return {
    ca: { certPem: read(TLS_FILES.caCert), keyPem: read(TLS_FILES.caKey) },
    server: { certPem: read(TLS_FILES.serverCert), keyPem: read(TLS_FILES.serverKey) },
  };
}

/**
 * TLS on every connection. Client certificates are requested and verified
 * against the cluster CA but not required by the handshake: a joining node
 * has none yet, and every other method checks the identity itself. (grpc-js's
 * plain createSsl does not request a certificate unless it also requires one;
 * its certificate-provider credentials do. grpc-js reports a peer certificate
 * only when it verified against the CA.)
 */
export function serverCredentials(tls: MasterTls): ServerCredentials {
  const provider = staticCertificateProvider(tls.ca.certPem, tls.server);
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
