// Join tokens (k3s/kubeadm style): "maro1.<id>.<secret>". The id names the token (listing, revoking); the secret
// proves possession. The master stores only sha256(secret).

import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import { PkiError } from "./errors.js";

const PREFIX = "maro1";
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 8;
const SECRET_BYTES = 32;
const TOKEN = /^maro1\.([a-z0-9]{8})\.([A-Za-z0-9_-]{43})$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
/** Longer input is not even looked at (a token is 58 characters). */
const MAX_TOKEN_CHARS = 1024;

const NOT_A_TOKEN = "not a maro join token; get one with `maro grass node join-token <cluster>`";

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** A new token. Show `token` once; store `id` and `secretHash` (sha256 hex of the secret). */
export function newJoinToken(): { token: string; id: string; secretHash: string } {
  let id = "";
  for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { token: `${PREFIX}.${id}.${secret}`, id, secretHash: sha256(secret).toString("hex") };
}

/**
 * Splits a token into id and secret. Surrounding whitespace is ignored (pasted tokens end in newlines).
 * Anything else throws PkiError, whose message never repeats the input.
 */
export function parseJoinToken(token: string): { id: string; secret: string } {
  if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS) throw new PkiError(NOT_A_TOKEN);
  const match = TOKEN.exec(token.trim());
  const id = match?.[1];
  const secret = match?.[2];
  // The secret must be the canonical encoding of 32 bytes (43 characters leave 2 spare bits, which must be 0).
  if (id === undefined || secret === undefined || Buffer.from(secret, "base64url").toString("base64url") !== secret) {
    throw new PkiError(NOT_A_TOKEN);
  }
  return { id, secret };
}

/** Whether sha256(secret) equals the stored hex `secretHash`, compared in constant time. False for a malformed hash. */
export function joinSecretMatches(secret: string, secretHash: string): boolean {
  if (typeof secret !== "string" || typeof secretHash !== "string" || !SHA256_HEX.test(secretHash)) return false;
  return timingSafeEqual(sha256(secret), Buffer.from(secretHash, "hex"));
}
