// Fluentd Forward Protocol v1: turns one decoded msgpack value into a tag, its
// entries and the option map, for the four carrier modes:
//   Message                  [tag, time, record, option?]
//   Forward                  [tag, [[time, record], ...], option?]
//   PackedForward            [tag, <bin|str: concatenated msgpack [time, record]>, option?]
//   CompressedPackedForward  the same with option.compressed == "gzip" (gzip members may be concatenated)
// time is an integer (seconds) or an EventTime (ext 0). Pure: no I/O, no clock.
import { gunzipSync } from "node:zlib";
import { ForwardProtocolError } from "./errors.js";
import { decodeValues, EventTime } from "./msgpack-codec.js";
import { rawArrayElementBytes } from "./msgpack-framer.js";

export type ForwardMode = "Message" | "Forward" | "PackedForward" | "CompressedPackedForward";

export interface ForwardEntry {
  /**
   * Nanoseconds since the epoch, exact: a number for integer-second times (exact until
   * 2116), a bigint for EventTime. 0 means "the client sent no time" (nil or 0), which
   * Fluentd replaces with the receive time.
   */
  timeNs: bigint | number;
  record: Record<string, unknown>;
}

export interface ForwardOption {
  /** Ack id: the server answers {ack: chunk} once the entries are stored. */
  chunk?: string;
  /** Event count per the spec (some clients send a byte count; informational only). */
  size?: number;
  /** "gzip" for CompressedPackedForward; "text" (or absent) otherwise. */
  compressed?: string;
}

export interface ForwardMessage {
  tag: string;
  mode: ForwardMode;
  entries: ForwardEntry[];
  option: ForwardOption;
}

export interface DecodeOptions {
  /** The value's own bytes: lets str-typed PackedForward entries (Fluentd's out_forward) be read raw. */
  raw?: Uint8Array;
  /** Bound on the gunzipped size of CompressedPackedForward entries (default 64 MiB). */
  maxDecompressedBytes?: number;
}

/** The latest time a JS Date can hold, in seconds. */
const MAX_SECONDS = 8.64e12;

function fail(message: string): never {
  throw new ForwardProtocolError(message);
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function decodeTime(value: unknown, where: string): bigint | number {
  if (value === null || value === undefined) return 0;
  if (value instanceof EventTime) return value.seconds === 0 && value.nanoseconds === 0 ? 0 : value.toNs();
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0 || value > MAX_SECONDS) fail(`${where}: time out of range: ${value}`);
    return Number.isInteger(value) ? value * 1e9 : Math.round(value * 1e9);
  }
  return fail(`${where}: time must be an integer or an EventTime, got ${describe(value)}`);
}

function decodeRecord(value: unknown, where: string): Record<string, unknown> {
  if (value instanceof Map) return Object.fromEntries(value);
  if (typeof value !== "object" || value === null || Array.isArray(value) || isBytes(value))
    fail(`${where}: record must be a map, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

function decodeEntry(value: unknown, where: string): ForwardEntry {
  if (!Array.isArray(value) || value.length !== 2)
    fail(`${where}: entry must be [time, record], got ${describe(value)}`);
  return { timeNs: decodeTime(value[0], where), record: decodeRecord(value[1], where) };
}

function decodeOption(value: unknown): ForwardOption {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value) || isBytes(value))
    fail(`option must be a map, got ${describe(value)}`);
  const raw = value as Record<string, unknown>;
  const option: ForwardOption = {};
  if (raw.chunk !== undefined && raw.chunk !== null) {
    if (typeof raw.chunk !== "string" || raw.chunk.length === 0 || raw.chunk.length > 1024)
      fail(`option.chunk must be a non-empty string, got ${describe(raw.chunk)}`);
    option.chunk = raw.chunk;
  }
  if (typeof raw.size === "number") option.size = raw.size;
  if (raw.compressed !== undefined && raw.compressed !== null) {
    if (raw.compressed !== "gzip" && raw.compressed !== "text")
      fail(`option.compressed must be "gzip" or "text", got ${describe(raw.compressed)}`);
    option.compressed = raw.compressed;
  }
  return option;
}

function gunzip(data: Uint8Array, maxBytes: number): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return fail(`CompressedPackedForward entries do not gunzip: ${message}`);
  }
}

/** Decodes one Forward-protocol message (already msgpack-decoded). Throws ForwardProtocolError on any bad shape. */
export function decodeForward(value: unknown, options: DecodeOptions = {}): ForwardMessage {
  if (!Array.isArray(value)) fail(`a message must be an array, got ${describe(value)}`);
  if (value.length < 2 || value.length > 4) fail(`a message must have 2 to 4 elements, got ${value.length}`);
  const tag = value[0];
  if (typeof tag !== "string" || tag.length === 0) fail(`tag must be a non-empty string, got ${describe(tag)}`);
  const second: unknown = value[1];

  if (second === null || typeof second === "number" || second instanceof EventTime) {
    if (value.length < 3) fail("Message mode needs [tag, time, record]");
    const option = decodeOption(value[3]);
    return { tag, mode: "Message", entries: [decodeEntry([second, value[2]], "Message")], option };
  }
  if (value.length > 3) fail(`Forward modes take [tag, entries, option?], got ${value.length} elements`);
  const option = decodeOption(value[2]);

  if (Array.isArray(second)) {
    if (option.compressed === "gzip") fail('option.compressed "gzip" needs binary entries');
    return { tag, mode: "Forward", entries: second.map((e, i) => decodeEntry(e, `Forward entry ${i}`)), option };
  }

  let packed: Uint8Array;
  if (isBytes(second)) packed = second;
  else if (typeof second === "string") {
    // str entries (protocol v0, Fluentd's out_forward): the decoder read them as UTF-8; take the raw bytes instead.
    packed = (options.raw && rawArrayElementBytes(options.raw, 1)) ?? Buffer.from(second, "latin1");
  } else return fail(`second element must be a time, an array or binary entries, got ${describe(second)}`);

  const compressed = option.compressed === "gzip";
  if (compressed) packed = gunzip(packed, options.maxDecompressedBytes ?? 64 * 1024 * 1024);
  const mode: ForwardMode = compressed ? "CompressedPackedForward" : "PackedForward";
  const entries = decodeValues(packed).map((e, i) => decodeEntry(e, `${mode} entry ${i}`));
  return { tag, mode, entries, option };
}

/** Converts an entry time to milliseconds; 0 (no time) becomes `fallbackMs`. */
export function timeNsToMs(timeNs: bigint | number, fallbackMs: number): number {
  if (typeof timeNs === "bigint") return timeNs === 0n ? fallbackMs : Number(timeNs / 1_000_000n);
  return timeNs === 0 ? fallbackMs : Math.floor(timeNs / 1e6);
}

/** A short, safe description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "nil";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isBytes(value)) return `${value.length} bytes of binary`;
  if (typeof value === "string") return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  if (typeof value === "object") return value instanceof EventTime ? "an EventTime" : "a map";
  return `${typeof value} ${String(value)}`;
}
