import type { PeerCertificate } from "node:tls";
import { type Identity, identityOfSubject } from "@maro/pki";
import type { Logger } from "@maro/proto";
import { MaroError } from "../errors.js";

/** The part of a grpc-js server call that says who the peer is. */
export interface PeerCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate };
  getPeer(): string;
}

/** Who is calling, from the client certificate the TLS handshake verified against the cluster CA. */
export function callerIdentity(call: PeerCall): Identity | null {
  const peer = call.getAuthContext().sslPeerCertificate;
  return peer ? identityOfSubject(peer.subject) : null;
}

/**
 * Authorises a call for one kind of identity; refusals are logged and thrown
 * as UNAUTHENTICATED (no usable certificate) or PERMISSION_DENIED (wrong kind).
 */
export function requireIdentity(call: PeerCall, kind: Identity["kind"], method: string, log: Logger): Identity {
  const identity = callerIdentity(call);
  if (!identity) {
    log.warn("call refused: no client certificate", { method, peer: call.getPeer() });
    throw new MaroError(
      "UNAUTHENTICATED",
      `${method} needs a client certificate of this cluster (the CLI's admin certificate or a node's)`,
    );
  }
  if (identity.kind !== kind) {
    log.warn("call refused: wrong identity", {
      method,
      identity: `${identity.kind}:${identity.name}`,
      peer: call.getPeer(),
    });
    throw new MaroError("PERMISSION_DENIED", `${identity.kind} "${identity.name}" may not call ${method}`);
  }
  return identity;
}
