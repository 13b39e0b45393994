// Who a certificate speaks for. Subject encoding: O = "maro:<kind>", CN = <name>.

import { PkiError } from "./errors.js";

export type IdentityKind = "admin" | "node" | "master";

export type Identity =
  | { kind: "admin"; name: string }
  | { kind: "node"; name: string }
  | { kind: "master"; name: string };

/** The subject fields we read; node's `tls.PeerCertificate["subject"]` fits (repeated attributes arrive as arrays). */
export interface SubjectFields {
  O?: string | string[];
  CN?: string | string[];
}

const ORGANIZATION_OF: Readonly<Record<IdentityKind, string>> = {
  admin: "maro:admin",
  node: "maro:node",
  master: "maro:master",
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(name: unknown): name is string {
  return typeof name === "string" && DNS_LABEL.test(name);
}

/** Throws PkiError unless `name` is a DNS label (a-z, 0-9, '-', at most 63, starts and ends alphanumeric). */
export function assertDnsLabel(name: unknown, what: string): asserts name is string {
  if (!isDnsLabel(name)) {
    const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 80)) : typeof name;
    throw new PkiError(
      `${what} ${shown} is not a DNS label (a-z, 0-9 and '-', at most 63, starting and ending alphanumeric)`,
    );
  }
}

/** Validates an identity given by a caller (kind is one of ours, name is a DNS label) and returns a clean copy. */
export function checkIdentity(identity: Identity): Identity {
  if (identity === null || typeof identity !== "object" || !Object.hasOwn(ORGANIZATION_OF, identity.kind)) {
    throw new PkiError(`identity kind must be "admin", "node" or "master"`);
  }
  assertDnsLabel(identity.name, `${identity.kind} name`);
  return makeIdentity(identity.kind, identity.name);
}

function makeIdentity(kind: IdentityKind, name: string): Identity {
  switch (kind) {
    case "admin":
      return { kind: "admin", name };
    case "node":
      return { kind: "node", name };
    case "master":
      return { kind: "master", name };
  }
}

export function formatIdentity(identity: Identity): string {
  return `${identity.kind} "${identity.name}"`;
}

/** The subject attributes that encode `identity`, in order: [["O", "maro:<kind>"], ["CN", name]]. */
export function subjectAttributes(identity: Identity): Array<[type: string, value: string]> {
  return [
    ["O", ORGANIZATION_OF[identity.kind]],
    ["CN", identity.name],
  ];
}

/** The certificate subject for @peculiar/x509 (`Name` JSON), most significant first. */
export function subjectOf(identity: Identity): Array<Record<string, string[]>> {
  return subjectAttributes(identity).map(([type, value]) => ({ [type]: [value] }));
}

function kindOfOrganization(o: string): IdentityKind | null {
  for (const kind of Object.keys(ORGANIZATION_OF) as IdentityKind[]) {
    if (ORGANIZATION_OF[kind] === o) return kind;
  }
  return null;
}

/**
 * The identity a certificate subject encodes, or null when it is not exactly one of ours
 * (missing or repeated O/CN, unknown organisation, a name that is not a DNS label).
 * Only meaningful for a certificate the TLS layer has verified against the cluster CA.
 */
export function identityOfSubject(subject: SubjectFields | undefined | null): Identity | null {
  if (subject === null || typeof subject !== "object") return null;
  const o: unknown = subject.O;
  const cn: unknown = subject.CN;
  if (typeof o !== "string" || !isDnsLabel(cn)) return null;
  const kind = kindOfOrganization(o);
  return kind === null ? null : makeIdentity(kind, cn);
}
