// Resource quantities, parsed once at the edge into fixed units: cpu in
// millicores, memory in bytes. Everything past the edge carries plain integers.
//
// CPU: a number of cores (1, 0.5, "2", "1.5") or millicores ("500m"); at most
// 3 decimals of a core, since 1m is the smallest unit.
//
// Memory, Kubernetes quantities plus MARO's unit:
//   - a bare number is bytes, as in Kubernetes ("1048576", 1048576);
//   - binary suffixes Ki Mi Gi Ti Pi Ei (1Ki = 1024);
//   - decimal suffixes k M G T P E (1k = 1000, 1M = 10^6, 1G = 10^9);
//   - lowercase "m" is MiB and lowercase "g" is GiB, as in MARO job files and
//     `docker run --memory` ("2048m" = 2048 MiB). Kubernetes has no lowercase
//     "g", and its "m" (milli) is meaningless for bytes, so nothing is lost.
// Fractional byte counts round up ("0.5k" = 500, "1.1Mi" = 1153434).

/** A quantity that cannot be parsed; the message names the value and the fix. */
export class UnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnitError";
  }
}

const CPU_FIX = "use 2, 0.5 or 500m";
const MEMORY_FIX = "use 2048m or 2Gi";
/** Longer strings are not quantities; also bounds the BigInt work below. */
const MAX_QUANTITY_LENGTH = 64;
const MAX_EXPONENT = 30;

const KI = 1024n;
const MEMORY_SUFFIXES: ReadonlyMap<string, bigint> = new Map([
  ["", 1n],
  ["k", 1000n],
  ["M", 1000n ** 2n],
  ["G", 1000n ** 3n],
  ["T", 1000n ** 4n],
  ["P", 1000n ** 5n],
  ["E", 1000n ** 6n],
  ["Ki", KI],
  ["Mi", KI ** 2n],
  ["Gi", KI ** 3n],
  ["Ti", KI ** 4n],
  ["Pi", KI ** 5n],
  ["Ei", KI ** 6n],
  ["m", KI ** 2n],
  ["g", KI ** 3n],
]);

/** Units formatMemory may print, largest first; binary before decimal. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ["Ei", KI ** 6n],
  ["E", 1000n ** 6n],
  ["Pi", KI ** 5n],
  ["P", 1000n ** 5n],
  ["Ti", KI ** 4n],
  ["T", 1000n ** 4n],
  ["Gi", KI ** 3n],
  ["G", 1000n ** 3n],
  ["Mi", KI ** 2n],
  ["M", 1000n ** 2n],
  ["Ki", KI],
  ["k", 1000n],
];

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An exact decimal: mantissa × 10^-scale. */
interface Decimal {
  mantissa: bigint;
  scale: number;
}

interface Quantity {
  decimal: Decimal;
  suffix: string;
}

/** How a value reads in a message: strings quoted, numbers as written. */
function show(value: string | number): string {
  if (typeof value === "number") return String(value);
  const text = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(text);
}

type Parsed = { ok: true; quantity: Quantity } | { ok: false; reason: "syntax" | "negative" | "range" };

function splitQuantity(value: string | number): Parsed {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { ok: false, reason: "syntax" };
    if (value < 0) return { ok: false, reason: "negative" };
  }
  const text = (typeof value === "number" ? String(value) : value).trim();
  if (text.length === 0 || text.length > MAX_QUANTITY_LENGTH) return { ok: false, reason: "syntax" };
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?([A-Za-z]*)$/.exec(text);
  if (!match) return { ok: false, reason: "syntax" };
  const [, sign = "", whole = "", fraction = "", exponentText, suffix = ""] = match;
  if (whole.length === 0 && fraction.length === 0) return { ok: false, reason: "syntax" };
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) return { ok: false, reason: "range" };
  const mantissa = BigInt(`${whole}${fraction}` || "0");
  if (sign === "-" && mantissa !== 0n) return { ok: false, reason: "negative" };
  return { ok: true, quantity: { decimal: { mantissa, scale: fraction.length - exponent }, suffix } };
}

/** value × multiplier as a whole number, or undefined when it has a fraction (unless rounding up). */
function scale(decimal: Decimal, multiplier: bigint, roundUp: boolean): bigint | undefined {
  const product = decimal.mantissa * multiplier;
  if (decimal.scale <= 0) return product * 10n ** BigInt(-decimal.scale);
  const divisor = 10n ** BigInt(decimal.scale);
  const quotient = product / divisor;
  if (product % divisor === 0n) return quotient;
  return roundUp ? quotient + 1n : undefined;
}

/** Parses cores (1, 0.5, "2", "1.5") or millicores ("500m") into millicores. */
export function parseCpu(value: string | number): number {
  const parsed = splitQuantity(value);
  if (!parsed.ok) {
    if (parsed.reason === "negative") throw new UnitError(`${show(value)} is negative; ${CPU_FIX}`);
    if (parsed.reason === "range") throw new UnitError(`${show(value)} is out of range for a cpu amount; ${CPU_FIX}`);
    throw new UnitError(`${show(value)} is not a cpu amount; ${CPU_FIX}`);
  }
  const { decimal, suffix } = parsed.quantity;
  if (suffix !== "" && suffix !== "m") {
    throw new UnitError(`${show(value)} is not a cpu amount; ${CPU_FIX} (cores, or millicores with m)`);
  }
  const millis = scale(decimal, suffix === "m" ? 1n : 1000n, false);
  if (millis === undefined) {
    throw new UnitError(
      `${show(value)} is finer than a thousandth of a core; use at most 3 decimals (0.001) or whole millicores (1m)`,
    );
  }
  if (millis > MAX_SAFE) throw new UnitError(`${show(value)} is out of range for a cpu amount; ${CPU_FIX}`);
  return Number(millis);
}

/** A hint for near-misses such as "512MB" or "2gb": the suffix the user probably meant. */
function memoryHint(quantity: Quantity, value: string | number): string {
  const first = quantity.suffix.charAt(0).toLowerCase();
  const unit = "kmgtpe".includes(first) && first !== "" ? `${first === "k" ? "K" : first.toUpperCase()}i` : undefined;
  if (unit === undefined || typeof value !== "string") return MEMORY_FIX;
  const number = value.trim().slice(0, value.trim().length - quantity.suffix.length);
  return `did you mean ${number}${unit}? (${MEMORY_FIX})`;
}

/** Parses a memory size into bytes. See the top of this file for the units. */
export function parseMemory(value: string | number): number {
  const parsed = splitQuantity(value);
  if (!parsed.ok) {
    if (parsed.reason === "negative") throw new UnitError(`${show(value)} is negative; ${MEMORY_FIX}`);
    if (parsed.reason === "range")
      throw new UnitError(`${show(value)} is out of range for a memory size; ${MEMORY_FIX}`);
    throw new UnitError(`${show(value)} is not a memory size; ${MEMORY_FIX}`);
  }
  const multiplier = MEMORY_SUFFIXES.get(parsed.quantity.suffix);
  if (multiplier === undefined) {
    throw new UnitError(`${show(value)} is not a memory size; ${memoryHint(parsed.quantity, value)}`);
  }
  const bytes = scale(parsed.quantity.decimal, multiplier, true) ?? 0n;
  if (bytes > MAX_SAFE) throw new UnitError(`${show(value)} is too large; the limit is 8191Ti`);
  return Number(bytes);
}

function checkAmount(amount: number, what: string): bigint {
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new UnitError(`${amount} is not a number of ${what}; expected a whole number from 0`);
  }
  return BigInt(amount);
}

/** Formats millicores as parseCpu reads them: 2000 → "2", 500 → "0.5", 250 → "250m". */
export function formatCpu(millis: number): string {
  checkAmount(millis, "millicores");
  if (millis % 1000 === 0) return String(millis / 1000);
  if (millis % 100 === 0) return `${Math.floor(millis / 1000)}.${(millis % 1000) / 100}`;
  return `${millis}m`;
}

/** "1.5" from 3/2 with at most two decimals, or undefined when inexact. */
function shortDecimal(amount: bigint, unit: bigint): string | undefined {
  if (amount < unit || (amount * 100n) % unit !== 0n) return undefined;
  const hundredths = (amount * 100n) / unit;
  const whole = hundredths / 100n;
  const rest = hundredths % 100n;
  if (rest === 0n) return String(whole);
  return `${whole}.${String(rest).padStart(2, "0").replace(/0$/, "")}`;
}

/**
 * Formats bytes as parseMemory reads them, in the shortest exact form:
 * 268435456 → "256Mi", 1610612736 → "1.5Gi", 10^9 → "1G", 100 → "100" (bytes).
 */
export function formatMemory(bytes: number): string {
  const amount = checkAmount(bytes, "bytes");
  let best = String(bytes);
  for (const [suffix, unit] of FORMAT_UNITS) {
    const number = shortDecimal(amount, unit);
    if (number !== undefined && number.length + suffix.length < best.length) best = `${number}${suffix}`;
  }
  return best;
}

/** An RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, ≤ 63. */
export function isDnsLabel(value: string): boolean {
  return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(value);
}
