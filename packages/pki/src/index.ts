// @maro/pki: the cluster CA, certificates for identities (admin, node, master), CSRs and join tokens.

export { type CertBundle, createCa } from "./ca.js";
export { certExpiry, certFingerprint, identityOfCert } from "./certificate.js";
export { createCsr, signCsr } from "./csr.js";
export { PkiError } from "./errors.js";
export {
  type CaCertificateUpdate,
  type IdentityCertificateUpdate,
  type StaticCertificateProvider,
  staticCertificateProvider,
} from "./grpc-provider.js";
export { type Identity, type IdentityKind, identityOfSubject, type SubjectFields } from "./identity.js";
export { issueClientCert, issueServerCert } from "./issue.js";
export { joinSecretMatches, newJoinToken, parseJoinToken } from "./join-token.js";
