// Splits a TCP byte stream into complete top-level msgpack values without decoding
// them. The scan resumes where it stopped when more bytes arrive, so a value split
// across many chunks is scanned once (linear work), and a value bigger than the
// limit is refused as soon as its header says so. Handed-out slices are never
// overwritten: the buffer is only appended to, and replaced when it must grow.
import { ForwardProtocolError } from "./errors.js";

const MAX_DEPTH = 128;
const MIN_CAPACITY = 64 * 1024;

/** Size of the item at pos: its header plus, for scalars, its payload; and how many items it contains. */
interface Header {
  size: number;
  children: number;
}

/**
 * Reads the msgpack header at pos. Returns false when fewer than the header's bytes are
 * available (the payload may still be incomplete: compare pos + size with the end).
 */
function readHeader(buf: Uint8Array, pos: number, end: number, out: Header): boolean {
  const t = buf[pos] as number;
  out.children = 0;
  if (t <= 0x7f || t >= 0xe0) out.size = 1;
  else if (t <= 0x8f) {
    out.size = 1;
    out.children = (t & 0x0f) * 2;
  } else if (t <= 0x9f) {
    out.size = 1;
    out.children = t & 0x0f;
  } else if (t <= 0xbf) out.size = 1 + (t & 0x1f);
  else {
    const u8 = () => buf[pos + 1] as number;
    const u16 = () => ((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number);
    const u32 = () =>
      (buf[pos + 1] as number) * 0x1000000 +
      (((buf[pos + 2] as number) << 16) | ((buf[pos + 3] as number) << 8) | (buf[pos + 4] as number));
    const need = (n: number) => pos + n <= end;
    switch (t) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        out.size = 1;
        break;
      case 0xc4: // bin 8
      case 0xd9: // str 8
        if (!need(2)) return false;
        out.size = 2 + u8();
        break;
      case 0xc5: // bin 16
      case 0xda: // str 16
        if (!need(3)) return false;
        out.size = 3 + u16();
        break;
      case 0xc6: // bin 32
      case 0xdb: // str 32
        if (!need(5)) return false;
        out.size = 5 + u32();
        break;
      case 0xc7: // ext 8
        if (!need(2)) return false;
        out.size = 3 + u8();
        break;
      case 0xc8: // ext 16
        if (!need(3)) return false;
        out.size = 4 + u16();
        break;
      case 0xc9: // ext 32
        if (!need(5)) return false;
        out.size = 6 + u32();
        break;
      case 0xcc:
      case 0xd0:
        out.size = 2;
        break;
      case 0xcd:
      case 0xd1:
        out.size = 3;
        break;
      case 0xca:
      case 0xce:
      case 0xd2:
        out.size = 5;
        break;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        out.size = 9;
        break;
      case 0xd4:
        out.size = 3;
        break;
      case 0xd5:
        out.size = 4;
        break;
      case 0xd6:
        out.size = 6;
        break;
      case 0xd7:
        out.size = 10;
        break;
      case 0xd8:
        out.size = 18;
        break;
      case 0xdc: // array 16
        if (!need(3)) return false;
        out.size = 3;
        out.children = u16();
        break;
      case 0xdd: // array 32
        if (!need(5)) return false;
        out.size = 5;
        out.children = u32();
        break;
      case 0xde: // map 16
        if (!need(3)) return false;
        out.size = 3;
        out.children = u16() * 2;
        break;
      case 0xdf: // map 32
        if (!need(5)) return false;
        out.size = 5;
        out.children = u32() * 2;
        break;
      default: // 0xc1 is never used
        throw new ForwardProtocolError(`invalid msgpack byte 0x${t.toString(16)}`);
    }
  }
  return true;
}

export class MsgpackFramer {
  private buf: Buffer | null = null;
  private owned = false; // whether buf is ours to append to (else it is a borrowed chunk)
  private start = 0; // where the value being framed begins
  private pos = 0; // scan cursor
  private end = 0; // bytes filled
  private readonly stack: number[] = []; // items left in each open container
  private readonly header: Header = { size: 0, children: 0 };

  constructor(private readonly maxValueBytes: number) {}

  /** Bytes held for a value that has started to arrive but is not complete. */
  get pendingBytes(): number {
    return this.buf ? this.end - this.start : 0;
  }

  /** Adds a chunk; returns the values it completed, each as its exact bytes. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    const buf = this.append(chunk);
    const values: Buffer[] = [];
    while (this.scan(buf)) {
      values.push(buf.subarray(this.start, this.pos));
      this.start = this.pos;
    }
    if (this.start === this.end) this.buf = null;
    return values;
  }

  private append(chunk: Buffer): Buffer {
    if (this.buf === null) {
      this.buf = chunk;
      this.owned = false;
      this.start = this.pos = 0;
      this.end = chunk.length;
      return chunk;
    }
    const held = this.end - this.start;
    if (!this.owned || this.end + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(held + chunk.length, 2 * held, MIN_CAPACITY));
      this.buf.copy(grown, 0, this.start, this.end);
      this.pos -= this.start;
      this.end = held;
      this.start = 0;
      this.buf = grown;
      this.owned = true;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
    return this.buf;
  }

  /** Advances over items until the current top-level value is complete (true) or bytes run out (false). */
  private scan(buf: Buffer): boolean {
    const h = this.header;
    const stack = this.stack;
    for (;;) {
      const pos = this.pos;
      if (pos >= this.end) return false;
      if (!readHeader(buf, pos, this.end, h)) return false;
      const length = pos + h.size - this.start;
      if (length > this.maxValueBytes || h.children > this.maxValueBytes - length)
        throw new ForwardProtocolError(`message larger than the limit of ${this.maxValueBytes} bytes`);
      if (pos + h.size > this.end) return false;
      this.pos = pos + h.size;
      if (h.children > 0) {
        if (stack.length >= MAX_DEPTH) throw new ForwardProtocolError(`msgpack nested deeper than ${MAX_DEPTH}`);
        stack.push(h.children);
        continue;
      }
      // An item is complete: close every container it completes.
      for (;;) {
        const depth = stack.length;
        if (depth === 0) return true;
        const left = (stack[depth - 1] as number) - 1;
        if (left > 0) {
          stack[depth - 1] = left;
          break;
        }
        stack.pop();
      }
    }
  }
}

/** Skips one complete value at pos in a complete buffer; returns the position after it. */
function skipValue(buf: Uint8Array, pos: number): number {
  const h: Header = { size: 0, children: 0 };
  let pending = 1;
  let p = pos;
  while (pending > 0) {
    if (p >= buf.length || !readHeader(buf, p, buf.length, h)) throw new ForwardProtocolError("truncated msgpack");
    p += h.size;
    pending += h.children - 1;
  }
  if (p > buf.length) throw new ForwardProtocolError("truncated msgpack");
  return p;
}

/**
 * The raw payload bytes of element `index` of the msgpack array in `raw`, when that element
 * is a str or bin; null otherwise. Used to recover binary data a client sent as str (Fluentd's
 * out_forward sends PackedForward entries as str 32), which a decoder would mangle as UTF-8.
 */
export function rawArrayElementBytes(raw: Uint8Array, index: number): Uint8Array | null {
  const h: Header = { size: 0, children: 0 };
  const t = raw[0];
  if (t === undefined || !((t >= 0x90 && t <= 0x9f) || t === 0xdc || t === 0xdd)) return null;
  if (!readHeader(raw, 0, raw.length, h) || h.children <= index) return null;
  let p = h.size;
  for (let i = 0; i < index; i++) p = skipValue(raw, p);
  const tag = raw[p];
  if (tag === undefined || !readHeader(raw, p, raw.length, h)) return null;
  let headerLength: number;
  if (tag >= 0xa0 && tag <= 0xbf) headerLength = 1;
  else if (tag === 0xd9 || tag === 0xc4) headerLength = 2;
  else if (tag === 0xda || tag === 0xc5) headerLength = 3;
  else if (tag === 0xdb || tag === 0xc6) headerLength = 5;
  else return null;
  if (p + h.size > raw.length) throw new ForwardProtocolError("truncated msgpack");
  return raw.subarray(p + headerLength, p + h.size);
}
