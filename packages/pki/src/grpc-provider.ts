// In-memory certificates for @grpc/grpc-js's experimental certificate providers, without depending on grpc-js.
//
// Why: `ServerCredentials.createSsl(ca, pairs, false)` does not even *request* a client certificate, so the peer
// is always anonymous; `createSsl(ca, pairs, true)` refuses every client without one. To serve mTLS callers and
// certificate-less callers (agents joining with a token) on one port, use
//   const p = staticCertificateProvider(caPem, serverBundle);
//   grpc.experimental.createCertificateProviderServerCredentials(p, p, false)
// which requests a certificate, does not require it, and only reports it in getAuthContext() when it verified.
// (Pass the same provider twice: grpc-js 1.14 swaps the two provider arguments internally.)

import type { CertBundle } from "./ca.js";

export interface CaCertificateUpdate {
  caCertificate: Buffer;
}
export interface IdentityCertificateUpdate {
  certificate: Buffer;
  privateKey: Buffer;
}

/** Structurally the `CertificateProvider` interface of `@grpc/grpc-js` (`experimental`). */
export interface StaticCertificateProvider {
  addCaCertificateListener(listener: (update: CaCertificateUpdate | null) => void): void;
  removeCaCertificateListener(listener: (update: CaCertificateUpdate | null) => void): void;
  addIdentityCertificateListener(listener: (update: IdentityCertificateUpdate | null) => void): void;
  removeIdentityCertificateListener(listener: (update: IdentityCertificateUpdate | null) => void): void;
}

/**
 * A provider that always offers `caPem` as trust root and `identity` as own certificate. Listeners are called on a
 * later tick: grpc-js only sees updates delivered after it registered its watcher.
 */
export function staticCertificateProvider(caPem: string, identity: CertBundle): StaticCertificateProvider {
  const ca: CaCertificateUpdate = { caCertificate: Buffer.from(caPem) };
  const own: IdentityCertificateUpdate = {
    certificate: Buffer.from(identity.certPem),
    privateKey: Buffer.from(identity.keyPem),
  };
  const caListeners = new Set<(update: CaCertificateUpdate | null) => void>();
  const ownListeners = new Set<(update: IdentityCertificateUpdate | null) => void>();
  return {
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      setImmediate(() => caListeners.has(listener) && listener(ca));
    },
    removeCaCertificateListener(listener) {
      caListeners.delete(listener);
    },
    addIdentityCertificateListener(listener) {
      ownListeners.add(listener);
      setImmediate(() => ownListeners.has(listener) && listener(own));
    },
    removeIdentityCertificateListener(listener) {
      ownListeners.delete(listener);
    },
  };
}
