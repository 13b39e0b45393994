import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { Packr, Unpackr } from "msgpackr";

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

export interface ForwardClientOptions {
  host: string;
  port: number;
  /** Enables the HELO/PING/PONG handshake (the server must send HELO). */
  sharedKey?: string;
  clientHostname: string;
  timeoutMs?: number;
}

/**
 * A minimal Fluentd forward-protocol client: one connection, PackedForward
 * batches, each acknowledged before the next. send() resolves only on the
 * sink's ack, and rejects on any error, so the caller knows exactly what is
 * stored.
 */
export class ForwardClient {
  private socket: Socket | null = null;
  private buffer = Buffer.alloc(0);
  private readonly values: unknown[] = [];
  private waiter: ((value: unknown) => void) | null = null;
  private failer: ((err: Error) => void) | null = null;

  constructor(private readonly options: ForwardClientOptions) {}

  async send(tag: string, entries: { timeMs: number; record: Record<string, unknown> }[]): Promise<void> {
    const socket = await this.ensureConnected();
    const packed = Buffer.concat(entries.map((e) => packr.pack([Math.floor(e.timeMs / 1000), e.record])));
    const chunk = randomBytes(16).toString("base64");
    socket.write(packr.pack([tag, packed, { size: entries.length, chunk }]));
    const reply = (await this.next()) as { ack?: string } | null;
    if (!reply || reply.ack !== chunk) {
      this.close();
      throw new Error("the log sink answered without the expected ack");
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
    this.buffer = Buffer.alloc(0);
    this.values.length = 0;
  }

  private async ensureConnected(): Promise<Socket> {
    if (this.socket) return this.socket;
    const socket = connect({ host: this.options.host, port: this.options.port });
    socket.setNoDelay(true);
    this.socket = socket;
    socket.on("data", (data: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      this.deliver();
    });
    const fail = (err: Error) => {
      if (this.socket === socket) this.socket = null;
      this.failer?.(err);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("the log sink closed the connection")));
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    if (this.options.sharedKey) await this.handshake(this.options.sharedKey);
    return socket;
  }

  private async handshake(sharedKey: string): Promise<void> {
    const helo = (await this.next()) as [string, { nonce?: Uint8Array | string }] | null;
    if (!Array.isArray(helo) || helo[0] !== "HELO") throw new Error("the log sink did not greet with HELO");
    const nonce = Buffer.from(helo[1]?.nonce ?? "").toString("latin1");
    const salt = randomBytes(16).toString("hex");
    const host = this.options.clientHostname;
    const digest = createHash("sha512")
      .update(salt)
      .update(host)
      .update(nonce, "latin1")
      .update(sharedKey)
      .digest("hex");
    this.socket?.write(packr.pack(["PING", host, salt, digest, "", ""]));
    const pong = (await this.next()) as [string, boolean, string] | null;
    if (!Array.isArray(pong) || pong[0] !== "PONG" || pong[1] !== true)
      throw new Error(`the log sink refused the shared key: ${Array.isArray(pong) ? String(pong[2]) : "no PONG"}`);
  }

  /** The next msgpack value from the sink. */
  private next(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close();
        reject(new Error("the log sink did not answer in time"));
      }, this.options.timeoutMs ?? 10_000);
      this.waiter = (v) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.failer = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      this.deliver();
    });
  }

  private deliver(): void {
    if (this.buffer.length > 0) {
      try {
        const values = unpackr.unpackMultiple(this.buffer) as unknown[];
        this.values.push(...values);
        this.buffer = Buffer.alloc(0);
      } catch (err) {
        if (!(err as { incomplete?: boolean }).incomplete) this.failer?.(err as Error);
        return;
      }
    }
    if (!this.waiter || this.values.length === 0) return;
    const w = this.waiter;
    this.waiter = null;
    this.failer = null;
    w(this.values.shift());
  }
}
