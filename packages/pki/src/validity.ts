// Serial numbers and validity windows.

import { randomBytes } from "node:crypto";
import { PkiError } from "./errors.js";

/** Tolerated clock skew between machines: certificates are valid from 5 minutes ago. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_VALIDITY_DAYS = 100 * 365;

/** 16 random bytes as hex, positive (top bit clear) and non-zero first byte, so it DER-encodes to exactly 16 bytes. */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString("hex");
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * notBefore = now - 5 minutes, notAfter = now + days (both whole seconds), and never later than `notAfterCap`
 * (a leaf does not outlive its CA).
 */
export function validity(days: number | undefined, defaultDays: number, notAfterCap?: Date): Validity {
  const d = days ?? defaultDays;
  if (typeof d !== "number" || !Number.isFinite(d) || d <= 0 || d > MAX_VALIDITY_DAYS) {
    throw new PkiError(`validityDays must be a number of days in (0, ${MAX_VALIDITY_DAYS}], got ${String(d)}`);
  }
  const now = Date.now();
  const notBefore = new Date(Math.floor((now - CLOCK_SKEW_MS) / 1000) * 1000);
  let notAfter = new Date(Math.floor((now + d * DAY_MS) / 1000) * 1000);
  if (notAfterCap !== undefined && notAfter.getTime() > notAfterCap.getTime()) notAfter = new Date(notAfterCap);
  if (notAfter.getTime() <= now) throw new PkiError("the certificate would already be expired");
  return { notBefore, notAfter };
}
