// The Forward protocol's shared-key handshake (server side):
//   server → ["HELO", {nonce, auth, keepalive}]
//   client → ["PING", client_hostname, shared_key_salt,
//             sha512_hex(shared_key_salt + client_hostname + nonce + shared_key), username, password_digest]
//   server → ["PONG", ok, reason, server_hostname,
//             sha512_hex(shared_key_salt + server_hostname + nonce + shared_key)]
// where shared_key_salt is the client's (from PING). User/password auth is not offered
// (auth is empty), so username and password_digest are ignored.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export interface Helo {
  nonce: string;
  message: [string, { nonce: string; auth: string; keepalive: boolean }];
}

export interface PingResult {
  ok: boolean;
  reason: string;
  clientHostname: string;
  pong: [string, boolean, string, string, string];
}

/** A fresh HELO. The nonce is ASCII (hex), so clients that treat it as bytes or as text hash the same bytes. */
export function createHelo(): Helo {
  const nonce = randomBytes(16).toString("hex");
  return { nonce, message: ["HELO", { nonce, auth: "", keepalive: true }] };
}

function hexDigest(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha512");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks a PING against the shared key and builds the PONG to send. */
export function answerPing(value: unknown, nonce: string, sharedKey: string, selfHostname: string): PingResult {
  const refuse = (reason: string, clientHostname = ""): PingResult => ({
    ok: false,
    reason,
    clientHostname,
    pong: ["PONG", false, reason, selfHostname, ""],
  });
  if (!Array.isArray(value) || value[0] !== "PING" || value.length < 4 || value.length > 6)
    return refuse("expected PING after HELO");
  const [, hostname, salt, digest] = value as unknown[];
  if (typeof hostname !== "string" || typeof digest !== "string") return refuse("malformed PING");
  if (typeof salt !== "string" && !(salt instanceof Uint8Array)) return refuse("malformed PING", hostname);
  if (!sameText(digest, hexDigest(salt, hostname, nonce, sharedKey))) return refuse("shared_key mismatch", hostname);
  return {
    ok: true,
    reason: "",
    clientHostname: hostname,
    pong: ["PONG", true, "", selfHostname, hexDigest(salt, selfHostname, nonce, sharedKey)],
  };
}
