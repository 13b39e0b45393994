// ECDSA P-256 keys: generated with WebCrypto, stored as PKCS#8 PEM (what node:tls and @grpc/grpc-js load).

import { createPrivateKey, createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import { PkiError } from "./errors.js";
import { pemEncode } from "./pem.js";

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The WebCrypto implementation handed to @peculiar/x509 (its typings see `Crypto` as untyped without the DOM lib). */
export const webCrypto: webcrypto.Crypto = webcrypto;

export const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;

export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(P256, true, ["sign", "verify"]);
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pemEncode("PRIVATE KEY", new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", key)));
}

/** True when `key` is an elliptic-curve key on P-256 (OpenSSL calls it prime256v1). */
export function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
}

export interface SigningKey {
  key: CryptoKey;
  /** DER SubjectPublicKeyInfo of the matching public key. */
  spki: Buffer;
}

/** Loads a P-256 private key from PEM (PKCS#8, or SEC1 "EC PRIVATE KEY") for signing. */
export async function importP256SigningKey(keyPem: unknown, what: string): Promise<SigningKey> {
  if (typeof keyPem !== "string") throw new PkiError(`${what}: expected a PEM private key`);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: keyPem, format: "pem" });
  } catch {
    throw new PkiError(`${what}: not a readable unencrypted PEM private key`);
  }
  if (!isP256(keyObject)) throw new PkiError(`${what}: not an ECDSA P-256 key`);
  const pkcs8 = keyObject.export({ format: "der", type: "pkcs8" });
  const key = await webcrypto.subtle.importKey("pkcs8", pkcs8, P256, false, ["sign"]);
  const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" });
  return { key, spki };
}
