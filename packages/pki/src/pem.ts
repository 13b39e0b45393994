// PEM armour (RFC 7468): strict decoding of one labelled block, 64-column encoding.

import { PkiError } from "./errors.js";

/** PEM text larger than this is refused before parsing (a certificate chain is a few KiB). */
export const MAX_PEM_CHARS = 256 * 1024;

const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * The DER bytes of the first `label` block in `pem` (`what` names it in errors).
 * Text around the block is ignored (like openssl); the body must be clean base64.
 */
export function pemDecode(pem: unknown, label: string, what: string): Buffer {
  if (typeof pem !== "string") throw new PkiError(`${what}: expected PEM text, got ${typeof pem}`);
  if (pem.length > MAX_PEM_CHARS) throw new PkiError(`${what}: PEM text is too large (${pem.length} characters)`);
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const start = pem.indexOf(begin);
  if (start < 0) throw new PkiError(`${what}: no "${begin}" block found`);
  const stop = pem.indexOf(end, start + begin.length);
  if (stop < 0) throw new PkiError(`${what}: "${begin}" has no matching "${end}"`);
  const body = pem.slice(start + begin.length, stop).replace(/\s+/g, "");
  if (body.length === 0 || body.length % 4 !== 0 || !BASE64_BODY.test(body)) {
    throw new PkiError(`${what}: the ${label} block is not valid base64`);
  }
  return Buffer.from(body, "base64");
}

/** Throws unless `der` is exactly one DER SEQUENCE: no trailing bytes (which ASN.1 parsers silently ignore). */
export function assertOneDerSequence(der: Buffer, what: string): void {
  const first = der[1];
  if (der[0] !== 0x30 || first === undefined) throw new PkiError(`${what}: not a DER sequence`);
  let length = first;
  let header = 2;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4 || der.length < 2 + octets) throw new PkiError(`${what}: bad DER length`);
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[2 + i] ?? 0);
    header += octets;
  }
  if (header + length !== der.length) {
    throw new PkiError(`${what}: DER length ${header + length} does not match the ${der.length} bytes given`);
  }
}
