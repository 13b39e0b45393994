// The master's Fluentd-compatible log sink: Forward Protocol v1 over TCP (Message,
// Forward, PackedForward, CompressedPackedForward; acks; shared-key handshake) and
// the UDP heartbeat on the same port.
//
// Who may send: addresses `authorize` accepts may send right away (Docker's fluentd
// driver cannot authenticate). Others must pass the shared-key handshake when a
// sharedKey is set, and are refused (closed at once) when none is.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, isIPv6, type Server, type Socket } from "node:net";
import { hostname } from "node:os";
import { ForwardConnection, type SinkCounters, type SinkLog } from "./forward-connection.js";
import type { LogEvent } from "./log-event.js";

export type { SinkLog } from "./forward-connection.js";

export interface ForwardServerOptions {
  host: string;
  /** 0 picks a port free for both TCP and UDP. */
  port: number;
  /** Enables the HELO/PING/PONG handshake for sources `authorize` does not accept. */
  sharedKey?: string;
  /** The hostname sent in PONG (default: os.hostname()). */
  selfHostname?: string;
  /** Sources allowed without the shared key (the address is plain IPv4 for IPv4-mapped IPv6). */
  authorize?: (remoteAddress: string) => boolean;
  /** Stores one tag's events; resolves when they are durable. Rejecting with LogRejectedError drops them for good. */
  onEvents: (tag: string, events: LogEvent[]) => Promise<void>;
  /** Largest accepted message (default 8 MiB); gunzipped entries may be 4 times that. */
  maxMessageBytes?: number;
  /** How long an unauthenticated connection may take to send PING (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Open connections at most (default 4096). */
  maxConnections?: number;
  log?: SinkLog;
}

export interface ForwardServerStats extends SinkCounters {
  /** Open connections. */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Connections refused at once (not authorized, no shared key). */
  refused: number;
}

const HEARTBEAT_REPLY = Buffer.from([0]);

function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

function bind(udp: UdpSocket, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    udp.once("error", onError);
    udp.bind(port, host, () => {
      udp.off("error", onError);
      resolve();
    });
  });
}

export class ForwardServer {
  private tcp: Server | null = null;
  private udp: UdpSocket | null = null;
  private readonly connections = new Set<ForwardConnection>();
  private readonly counters: SinkCounters = { events: 0, bytes: 0, messages: 0, rejected: 0, failed: 0 };
  private accepted = 0;
  private refused = 0;
  private readonly log: SinkLog;

  constructor(private readonly options: ForwardServerOptions) {
    this.log = options.log ?? { warn() {} };
  }

  /** Listens on TCP and UDP (same port). */
  async start(): Promise<{ port: number }> {
    if (this.tcp) throw new Error("the log sink is already started");
    const { host } = this.options;
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
      tcp.maxConnections = this.options.maxConnections ?? 4096;
      const port = await listen(tcp, this.options.port, host);
      const udp = createSocket({ type: isIPv6(host) ? "udp6" : "udp4" });
      try {
        await bind(udp, port, host);
      } catch (err) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        // With port 0 the TCP port may be taken for UDP: try another.
        if (this.options.port === 0 && attempt < 10 && (err as NodeJS.ErrnoException).code === "EADDRINUSE") continue;
        throw err;
      }
      udp.on("message", (_msg, rinfo) => {
        udp.send(HEARTBEAT_REPLY, rinfo.port, rinfo.address, (err) => {
          if (err) this.log.warn("log sink: heartbeat reply failed", { remote: rinfo.address, error: err.message });
        });
      });
      udp.on("error", (err) => this.log.warn("log sink: UDP error", { error: err.message }));
      this.tcp = tcp;
      this.udp = udp;
      return { port };
    }
  }

  /** Stops listening, closes every connection and waits for batches being stored. */
  async stop(): Promise<void> {
    const tcp = this.tcp;
    const udp = this.udp;
    this.tcp = null;
    this.udp = null;
    const closed = tcp ? new Promise<void>((r) => tcp.close(() => r())) : Promise.resolve();
    udp?.close();
    const pending = [...this.connections].map((c) => {
      c.destroy();
      return c.idle();
    });
    await Promise.allSettled(pending);
    await closed;
  }

  stats(): ForwardServerStats {
    return { ...this.counters, connections: this.connections.size, accepted: this.accepted, refused: this.refused };
  }

  private accept(socket: Socket): void {
    const remote = plainAddress(socket.remoteAddress ?? "");
    let authorized = false;
    try {
      authorized = this.options.authorize?.(remote) ?? false;
    } catch (err) {
      this.log.warn("log sink: authorize failed", { remote, error: err instanceof Error ? err.message : String(err) });
    }
    const sharedKey = this.options.sharedKey;
    if (!authorized && sharedKey === undefined) {
      this.refused++;
      this.log.warn("log sink: refused a connection from an unauthorized address", { remote });
      socket.on("error", () => {});
      socket.destroy();
      return;
    }
    this.accepted++;
    const connection = new ForwardConnection(socket, remote, {
      sharedKey: authorized ? undefined : sharedKey,
      selfHostname: this.options.selfHostname ?? hostname(),
      maxMessageBytes: this.options.maxMessageBytes ?? 8 * 1024 * 1024,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs ?? 10_000,
      onEvents: this.options.onEvents,
      log: this.log,
      counters: this.counters,
    });
    this.connections.add(connection);
    socket.once("close", () => this.connections.delete(connection));
    connection.start();
  }
}
