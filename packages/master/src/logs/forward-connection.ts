// One client connection of the Forward-protocol sink. Frames complete msgpack
// values as bytes arrive; stores them in batches (everything that arrived while the
// previous batch was being stored): decode, hand the events to onEvents grouped by
// tag, in order, and only after that resolved (durably stored) answer each
// option.chunk with {ack}. When more than 1 MiB waits, the socket is paused, so a
// slow disk slows clients down (TCP backpressure) instead of filling memory.
import type { Socket } from "node:net";
import { ForwardProtocolError, LogRejectedError } from "./errors.js";
import { decodeForward } from "./forward-decode.js";
import { answerPing, createHelo } from "./handshake.js";
import type { LogEvent } from "./log-event.js";
import { toLogEvent } from "./log-event.js";
import { decodeValue, packr } from "./msgpack-codec.js";
import { MsgpackFramer } from "./msgpack-framer.js";

export interface SinkLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface SinkCounters {
  /** Events handed to onEvents and stored. */
  events: number;
  /** Bytes received over TCP. */
  bytes: number;
  /** Forward messages decoded. */
  messages: number;
  /** Events dropped because onEvents rejected them for good (LogRejectedError). */
  rejected: number;
  /** Connections closed for a protocol error, a failed handshake or a failed store. */
  failed: number;
}

export interface ConnectionContext {
  /** Set when this connection must pass the shared-key handshake first. */
  sharedKey: string | undefined;
  selfHostname: string;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  onEvents: (tag: string, events: LogEvent[]) => Promise<void>;
  log: SinkLog;
  counters: SinkCounters;
}

/** Framed values waiting while a batch is stored; beyond this the socket is paused (TCP backpressure). */
const MAX_WAITING_BYTES = 1024 * 1024;
/** Unread acks beyond this mean the client does not read its socket. */
const MAX_UNSENT_BYTES = 1024 * 1024;
const QUIET_ERRORS = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT"]);

interface Batch {
  tag: string;
  events: LogEvent[];
}

export class ForwardConnection {
  private readonly framer: MsgpackFramer;
  private state: "handshake" | "open";
  /** Set when the sink gives up on the connection (bad input, failed store, stop); a peer hanging up is not that. */
  private aborted = false;
  private nonce = "";
  private busy: Promise<void> = Promise.resolve();
  private storing = false;
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private readonly warnedTags = new Set<string>();

  constructor(
    private readonly socket: Socket,
    readonly remote: string,
    private readonly ctx: ConnectionContext,
  ) {
    this.framer = new MsgpackFramer(ctx.maxMessageBytes);
    this.state = ctx.sharedKey === undefined ? "open" : "handshake";
  }

  start(): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (!QUIET_ERRORS.has(err.code ?? ""))
        this.ctx.log.warn("log sink: socket error", { remote: this.remote, error: err.message });
    });
    if (this.state === "handshake") {
      const helo = createHelo();
      this.nonce = helo.nonce;
      this.send([helo.message]);
      socket.setTimeout(this.ctx.handshakeTimeoutMs, () =>
        this.fail(new ForwardProtocolError("no PING before the timeout")),
      );
    }
  }

  /** Whether the sink gave up on the connection (a getter, so it is re-read after each await). */
  private get closed(): boolean {
    return this.aborted;
  }

  /** Settles once the batch being stored (if any) is done. */
  idle(): Promise<void> {
    return this.busy;
  }

  destroy(): void {
    this.aborted = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.aborted) return;
    this.ctx.counters.bytes += chunk.length;
    let values: Buffer[];
    try {
      values = this.framer.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const value of values) {
      this.waiting.push(value);
      this.waitingBytes += value.length;
    }
    if (this.waitingBytes > MAX_WAITING_BYTES && !this.socket.isPaused()) this.socket.pause();
    if (!this.storing && this.waiting.length > 0) this.busy = this.drain();
  }

  /**
   * Stores what waits, batch after batch; values arriving meanwhile form the next batch.
   * What arrived is stored even if the client hung up meanwhile (it only gets no ack).
   */
  private async drain(): Promise<void> {
    this.storing = true;
    try {
      while (this.waiting.length > 0 && !this.closed) {
        const batch = this.waiting;
        this.waiting = [];
        this.waitingBytes = 0;
        await this.process(batch);
        if (this.socket.isPaused() && !this.closed) this.socket.resume();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.storing = false;
    }
  }

  /** Decodes the values, stores their events, then acks. A bad value ends the batch (and the connection) after the good ones before it. */
  private async process(values: Buffer[]): Promise<void> {
    const receivedMs = Date.now();
    const batches: Batch[] = [];
    const acks: string[] = [];
    let error: unknown;
    for (const raw of values) {
      try {
        const value = decodeValue(raw);
        if (this.state === "handshake") {
          if (!this.answerPing(value)) return;
          continue;
        }
        if (this.closed) return;
        const message = decodeForward(value, { raw, maxDecompressedBytes: 4 * this.ctx.maxMessageBytes });
        this.ctx.counters.messages++;
        let batch = batches[batches.length - 1];
        if (batch?.tag !== message.tag) {
          batch = { tag: message.tag, events: [] };
          batches.push(batch);
        }
        for (const entry of message.entries) batch.events.push(toLogEvent(entry.record, entry.timeNs, receivedMs));
        if (message.option.chunk !== undefined) acks.push(message.option.chunk);
      } catch (err) {
        error = err;
        break;
      }
    }
    for (const batch of batches) await this.store(batch);
    if (acks.length > 0) this.send(acks.map((ack) => ({ ack })));
    if (error !== undefined) throw error;
  }

  private async store(batch: Batch): Promise<void> {
    if (batch.events.length === 0) return;
    try {
      await this.ctx.onEvents(batch.tag, batch.events);
      this.ctx.counters.events += batch.events.length;
    } catch (err) {
      if (!(err instanceof LogRejectedError)) throw err;
      // Permanent: acknowledge and drop, or the client would resend it forever.
      this.ctx.counters.rejected += batch.events.length;
      if (this.warnedTags.size < 16 && !this.warnedTags.has(batch.tag)) {
        this.warnedTags.add(batch.tag);
        this.ctx.log.warn("log sink: dropping events", { remote: this.remote, tag: batch.tag, error: err.message });
      }
    }
  }

  private answerPing(value: unknown): boolean {
    const sharedKey = this.ctx.sharedKey ?? "";
    const result = answerPing(value, this.nonce, sharedKey, this.ctx.selfHostname);
    this.send([result.pong]);
    if (!result.ok) {
      this.ctx.counters.failed++;
      this.ctx.log.warn("log sink: handshake refused", {
        remote: this.remote,
        hostname: result.clientHostname,
        reason: result.reason,
      });
      this.aborted = true;
      this.socket.end(); // after the PONG is flushed
      this.socket.setTimeout(1000, () => this.socket.destroy());
      return false;
    }
    this.state = "open";
    this.socket.setTimeout(0);
    return true;
  }

  private send(values: unknown[]): void {
    if (this.aborted || !this.socket.writable) return;
    // Copy each: a Packr may reuse its buffer for the next value.
    this.socket.write(Buffer.concat(values.map((v) => Buffer.from(packr.pack(v)))));
    if (this.socket.writableLength > MAX_UNSENT_BYTES)
      this.fail(new ForwardProtocolError("the client does not read its acks"));
  }

  private fail(err: unknown): void {
    if (this.aborted) return;
    this.ctx.counters.failed++;
    const protocol = err instanceof ForwardProtocolError;
    this.ctx.log.warn(
      protocol
        ? "log sink: closing a connection that broke the protocol"
        : "log sink: storing failed; closing without ack so the client resends",
      {
        remote: this.remote,
        error: err instanceof Error ? err.message : String(err),
      },
    );
    this.destroy();
  }
}
