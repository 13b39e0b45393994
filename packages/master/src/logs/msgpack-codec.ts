// The msgpack codec the log sink uses, with the Forward protocol's EventTime
// extension (ext type 0: 4-byte big-endian seconds, 4-byte big-endian nanoseconds).
// msgpackr's extension table is process-wide: importing this module registers it
// (ext 0 is otherwise msgpackr's "undefined", which the sink has no use for).
import { addExtension, Packr, Unpackr } from "msgpackr";
import { ForwardProtocolError } from "./errors.js";

/** A Forward-protocol timestamp with nanoseconds (msgpack ext type 0). */
export class EventTime {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 0xffffffff)
      throw new RangeError(`EventTime seconds must be a uint32, got ${seconds}`);
    if (!Number.isInteger(nanoseconds) || nanoseconds < 0 || nanoseconds > 999_999_999)
      throw new RangeError(`EventTime nanoseconds must be 0..999999999, got ${nanoseconds}`);
  }

  static fromMs(ms: number): EventTime {
    const seconds = Math.floor(ms / 1000);
    return new EventTime(seconds, Math.round((ms - seconds * 1000) * 1e6));
  }

  /** Exact nanoseconds since the epoch. */
  toNs(): bigint {
    return BigInt(this.seconds) * 1_000_000_000n + BigInt(this.nanoseconds);
  }

  toMs(): number {
    return this.seconds * 1000 + Math.floor(this.nanoseconds / 1e6);
  }

  /** Its msgpack encoding: fixext 8 (0xd7), type 0, seconds and nanoseconds big-endian. */
  toMsgpack(): Buffer {
    const out = Buffer.allocUnsafe(10);
    out[0] = 0xd7;
    out[1] = 0x00;
    out.writeUInt32BE(this.seconds, 2);
    out.writeUInt32BE(this.nanoseconds, 6);
    return out;
  }
}

// Unpacking only: msgpackr refuses to pack a Class with ext type 0 (it tests the type
// for truthiness), and the sink never sends times. Clients build it with toMsgpack().
addExtension({
  type: 0,
  unpack(data: Uint8Array): EventTime {
    if (data.length !== 8) throw new ForwardProtocolError(`EventTime (ext 0) must have 8 bytes, got ${data.length}`);
    const view = new DataView(data.buffer, data.byteOffset, 8);
    const nanoseconds = view.getUint32(4);
    if (nanoseconds > 999_999_999) throw new ForwardProtocolError(`EventTime nanoseconds out of range: ${nanoseconds}`);
    return new EventTime(view.getUint32(0), nanoseconds);
  },
});

/** Decodes what clients send: maps as plain objects, no msgpackr records or structured clones. */
export const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  int64AsType: "number",
});

/** Encodes what the sink replies (acks, HELO, PONG) as plain msgpack. */
export const packr = new Packr({ useRecords: false });

/** Decodes one complete msgpack value; anything malformed becomes a ForwardProtocolError. */
export function decodeValue(raw: Uint8Array): unknown {
  try {
    return unpackr.unpack(raw);
  } catch (err) {
    if (err instanceof ForwardProtocolError) throw err;
    throw new ForwardProtocolError(`invalid msgpack: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Decodes a buffer holding several concatenated msgpack values (PackedForward entries). */
export function decodeValues(raw: Uint8Array): unknown[] {
  if (raw.length === 0) return [];
  try {
    return unpackr.unpackMultiple(raw);
  } catch (err) {
    if (err instanceof ForwardProtocolError) throw err;
    throw new ForwardProtocolError(`invalid msgpack in entries: ${err instanceof Error ? err.message : String(err)}`);
  }
}
