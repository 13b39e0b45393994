import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import fluentLogger from "fluent-logger";
import { Packr, Unpackr } from "msgpackr";
import { eventually, sleep, tempDir } from "../../../test/support/tmp.js";
import {
  EventTime,
  ForwardServer,
  type ForwardServerOptions,
  type LogEvent,
  LogStore,
  type StoredLine,
  storeEvents,
} from "../src/logs/index.js";
import { MsgpackFramer } from "../src/logs/msgpack-framer.js";

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
const pack = (v: unknown) => Buffer.from(packr.pack(v));
const quiet = { info() {}, error() {} };

type Sender = fluentLogger.FluentSender<Record<string, unknown>>;

function sender(port: number, tag: string, options: fluentLogger.Options = {}): Sender {
  return fluentLogger.createFluentSender(tag, {
    host: "127.0.0.1",
    port,
    internalLogger: quiet,
    enableReconnect: false,
    ...options,
  } as fluentLogger.Options);
}

/** Closes a sender's socket (fluent-logger's end() with no label and no data). */
function close(s: Sender): void {
  (s as unknown as { end(label: null, data: null, cb: () => void): void }).end(null, null, () => {});
}

function emit(s: Sender, label: string, data: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => s.emit(label, data, (err) => (err ? reject(err) : resolve())));
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A raw TCP client: collects what the server sends back, decoded. */
class RawClient {
  readonly replies: unknown[] = [];
  closed = false;
  private readonly framer = new MsgpackFramer(1 << 20);
  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      for (const v of this.framer.push(chunk)) this.replies.push(unpackr.unpack(v));
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", () => {});
  }
  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }
  end(): void {
    this.socket.destroy();
  }
}

/** Message bytes with an EventTime, built by hand (EventTime is ext 0, which msgpackr cannot pack). */
function arrayOf(...parts: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x90 | parts.length]), ...parts]);
}

describe("ForwardServer with real clients", () => {
  const dir = tempDir("logs-forward");
  const store = new LogStore({ dir: dir.path });
  const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
  const log = { warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }) };
  const servers: ForwardServer[] = [];
  let port = 0;

  async function startServer(options: Partial<ForwardServerOptions>): Promise<{ server: ForwardServer; port: number }> {
    const server = new ForwardServer({ host: "127.0.0.1", port: 0, onEvents: storeEvents(store), log, ...options });
    servers.push(server);
    return { server, port: (await server.start()).port };
  }
  const lines = async (job: string) => (await all(store.read(job))).map((l: StoredLine) => l.line);

  before(async () => {
    ({ port } = await startServer({ authorize: (addr) => addr === "127.0.0.1" }));
  });
  after(async () => {
    for (const s of servers) await s.stop();
    await store.close();
    dir.remove();
  });

  test("fluent-logger, Message mode (with and without acks)", async () => {
    const plain = sender(port, "maro.msg");
    const acked = sender(port, "maro.msg", { requireAckResponse: true });
    await emit(plain, "c1", { log: "hello from message mode", source: "stdout" });
    await emit(acked, "c2", { message: "acked message", stream: "stderr" });
    await eventually(async () => (await lines("msg")).length === 2);
    const read = await all(store.read("msg"));
    assert.deepEqual(read.map((l) => [l.container, l.stream, l.line]).sort(), [
      ["c1", "stdout", "hello from message mode"],
      ["c2", "stderr", "acked message"],
    ]);
    close(plain);
    close(acked);
  });

  for (const eventMode of ["PackedForward", "CompressedPackedForward"]) {
    test(`fluent-logger, ${eventMode} with acks`, async () => {
      const job = eventMode.toLowerCase();
      const s = sender(port, `maro.${job}`, { eventMode, requireAckResponse: true, flushInterval: 5 });
      const sent = Array.from({ length: 500 }, (_, i) => `${eventMode} event ${i} ${"z".repeat(i % 50)}`);
      await Promise.all(sent.map((line, i) => emit(s, i % 2 ? "even" : "odd", { log: line })));
      // Acked means stored: no waiting needed.
      const stored = await lines(job);
      assert.deepEqual([...stored].sort(), [...sent].sort());
      assert.deepEqual(
        (await all(store.read(job, { container: "odd" }))).map((l) => l.line),
        sent.filter((_, i) => i % 2 === 0),
        "in order per container",
      );
      close(s);
    });
  }

  test("raw sender: Forward mode with EventTime, values split across and packed into TCP chunks", async () => {
    const client = await RawClient.open(port);
    const t = new EventTime(1714557600, 123_456_789);
    const entry = (line: string) => arrayOf(t.toMsgpack(), pack({ log: line, source: "stderr" }));
    const forward = arrayOf(
      pack("maro.raw.fw"),
      arrayOf(entry("one"), entry("two"), entry("three")),
      pack({ chunk: "c-1" }),
    );
    const message = arrayOf(pack("maro.raw.msg"), pack(1714557601), pack({ log: "int time" }), pack({ chunk: "c-2" }));
    // Two values in one write, then the first again one byte at a time.
    client.write(Buffer.concat([forward, message]));
    await eventually(() => client.replies.length === 2, 5000, "two acks");
    assert.deepEqual(client.replies, [{ ack: "c-1" }, { ack: "c-2" }]);
    const again = arrayOf(pack("maro.raw.fw"), arrayOf(entry("four")), pack({ chunk: "c-3" }));
    for (const byte of again) {
      client.write(Buffer.from([byte]));
      await sleep(0);
    }
    await eventually(() => client.replies.length === 3, 5000, "third ack");
    const read = await all(store.read("raw"));
    assert.deepEqual(
      read.map((l) => [l.container, l.line, l.stream, l.time]),
      [
        ["fw", "one", "stderr", "2024-05-01T10:00:00.123Z"],
        ["fw", "two", "stderr", "2024-05-01T10:00:00.123Z"],
        ["fw", "three", "stderr", "2024-05-01T10:00:00.123Z"],
        ["msg", "int time", "stdout", "2024-05-01T10:00:01.000Z"],
        ["fw", "four", "stderr", "2024-05-01T10:00:00.123Z"],
      ].sort((a, b) => String(a[3]).localeCompare(String(b[3]))),
    );
    client.end();
  });

  test("raw sender: PackedForward as str 32 (Fluentd out_forward) and gzip with concatenated members", async () => {
    const client = await RawClient.open(port);
    const entries = (from: number, n: number) =>
      Buffer.concat(Array.from({ length: n }, (_, i) => pack([1714557600 + from + i, { log: `p${from + i}` }])));
    const raw = entries(0, 3);
    const str32 = Buffer.alloc(5);
    str32[0] = 0xdb;
    str32.writeUInt32BE(raw.length, 1);
    client.write(arrayOf(pack("maro.packed.s"), Buffer.concat([str32, raw]), pack({ chunk: "s" })));
    const gz = Buffer.concat([gzipSync(entries(3, 2)), gzipSync(entries(5, 2))]);
    client.write(arrayOf(pack("maro.packed.s"), pack(gz), pack({ chunk: "g", compressed: "gzip", size: 4 })));
    await eventually(() => client.replies.length === 2, 5000, "acks");
    assert.deepEqual(await lines("packed"), ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    client.end();
  });

  test("acks only after the events are stored, and stops reading while storing (backpressure)", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const stored: LogEvent[][] = [];
    const { server, port: gated } = await startServer({
      authorize: () => true,
      onEvents: async (tag, events) => {
        await gate;
        await storeEvents(store)(tag, events);
        stored.push(events);
      },
    });
    const client = await RawClient.open(gated);
    client.write(arrayOf(pack("maro.gated.c"), pack(0), pack({ log: "first" }), pack({ chunk: "first" })));
    await eventually(() => server.stats().bytes > 0, 5000, "first message read");
    // Then far more than memory should hold, while the first batch is stuck.
    const filler = Buffer.concat(
      Array.from({ length: 200 }, (_, i) =>
        arrayOf(pack("maro.gated.c"), pack(0), pack({ log: `${i} ${"f".repeat(100_000)}` })),
      ),
    );
    client.write(filler);
    await sleep(300);
    assert.deepEqual(client.replies, [], "no ack before the store resolved");
    assert.ok(server.stats().bytes < 4 * 1024 * 1024, `read only ${server.stats().bytes} of ${filler.length} bytes`);
    open();
    await eventually(() => client.replies.length === 1, 5000, "ack");
    assert.deepEqual(client.replies, [{ ack: "first" }]);
    assert.ok(stored.length >= 1);
    await eventually(async () => (await lines("gated")).length === 201, 20_000, "all stored");
    assert.equal(
      server.stats().bytes,
      filler.length + arrayOf(pack("maro.gated.c"), pack(0), pack({ log: "first" }), pack({ chunk: "first" })).length,
    );
    client.end();
  });

  test("a client that sends and hangs up at once still has everything stored", async () => {
    const client = await RawClient.open(port);
    const messages = Array.from({ length: 20_000 }, (_, i) =>
      pack(["maro.hangup.c", 0, { log: `line ${i} ${"h".repeat(80)}` }]),
    );
    client.socket.end(Buffer.concat(messages)); // over 1 MiB: the sink pauses reading on the way
    await eventually(async () => (await lines("hangup")).length === 20_000, 20_000, "all 20000 stored");
    const stored = await lines("hangup");
    assert.equal(stored[0], `line 0 ${"h".repeat(80)}`);
    assert.equal(stored[19_999], `line 19999 ${"h".repeat(80)}`);
  });

  test("shared-key handshake: the right key passes, a wrong one is refused", async () => {
    const { server, port: secure } = await startServer({
      sharedKey: "s3cret",
      selfHostname: "maro-master",
      authorize: () => false,
    });
    const good = sender(secure, "maro.secure", {
      security: { clientHostname: "node-a", sharedKey: "s3cret" },
      requireAckResponse: true,
    });
    await emit(good, "c", { log: "authenticated" });
    assert.deepEqual(await lines("secure"), ["authenticated"]);
    close(good);

    const bad = sender(secure, "maro.secure", { security: { clientHostname: "node-b", sharedKey: "wrong" } });
    const failure = new Promise<Error>((resolve) =>
      (bad as unknown as { on(event: "error", listener: (err: Error) => void): void }).on("error", resolve),
    );
    bad.emit("c", { log: "must not land" });
    const err = await failure;
    assert.match(err.message, /Authentication failed: shared_key mismatch/);

    // A client that skips the handshake gets PONG false and is closed.
    const raw = await RawClient.open(secure);
    await eventually(() => raw.replies.length === 1, 5000, "HELO");
    const [helo] = raw.replies as [unknown[]];
    assert.equal(helo[0], "HELO");
    raw.write(arrayOf(pack("maro.secure.c"), pack(0), pack({ log: "sneaky" })));
    await eventually(() => raw.closed, 5000, "closed");
    assert.deepEqual((raw.replies[1] as unknown[]).slice(0, 3), ["PONG", false, "expected PING after HELO"]);
    await sleep(50);
    assert.deepEqual(await lines("secure"), ["authenticated"]);
    assert.ok(server.stats().failed >= 2);
  });

  test("unauthorized addresses are refused when no shared key is set", async () => {
    const seen: string[] = [];
    const { server, port: strict } = await startServer({
      authorize: (addr) => {
        seen.push(addr);
        return addr === "10.9.9.9";
      },
    });
    const client = await RawClient.open(strict);
    await eventually(() => client.closed, 5000, "closed at once");
    assert.deepEqual(seen, ["127.0.0.1"], "authorize sees plain IPv4");
    assert.equal(server.stats().refused, 1);
    assert.ok(warnings.some((w) => w.msg.includes("unauthorized") && w.fields?.remote === "127.0.0.1"));
  });

  test("malformed input closes only that connection", async () => {
    const s = sender(port, "maro.survivor", { requireAckResponse: true });
    await emit(s, "c", { log: "before" });
    const cases: Buffer[] = [
      Buffer.from([0xc1, 0x00]), // never-used byte
      pack([1, 2]), // tag is not a string
      pack(["maro.bad.c", 0, "not a map"]),
      pack(["maro.bad.c", Buffer.from([0x93, 0x01]), {}]), // truncated packed entries
      pack(["maro.bad.c", pack([0, {}]), { compressed: "gzip" }]), // not gzip
      Buffer.concat([Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff])]), // a huge array header
      Buffer.from(Array.from({ length: 200 }, () => 0x91)), // too deep
    ];
    for (const bytes of cases) {
      const client = await RawClient.open(port);
      client.write(bytes);
      await eventually(() => client.closed, 5000, `closed after ${bytes.subarray(0, 8).toString("hex")}`);
    }
    await emit(s, "c", { log: "after" });
    assert.deepEqual(await lines("survivor"), ["before", "after"]);
    assert.deepEqual(await lines("bad"), []);
    close(s);
  });

  test("a message over maxMessageBytes closes the connection", async () => {
    const { port: small } = await startServer({ authorize: () => true, maxMessageBytes: 1024 });
    const client = await RawClient.open(small);
    client.write(pack(["maro.big.c", 0, { log: "b".repeat(2000) }]));
    await eventually(() => client.closed, 5000, "closed");
    assert.deepEqual(await lines("big"), []);
  });

  test("a tag that is not maro.<job>.<container> is acked, dropped and logged", async () => {
    const { server, port: p } = await startServer({ authorize: () => true });
    const s = sender(p, "docker.abc", { requireAckResponse: true });
    await emit(s, "", { log: "nowhere" });
    assert.equal(server.stats().rejected, 1);
    assert.ok(warnings.some((w) => w.msg.includes("dropping") && w.fields?.tag === "docker.abc"));
    close(s);
  });

  test("UDP heartbeat is answered", async () => {
    const udp = createSocket("udp4");
    const reply = new Promise<Buffer>((resolve) => udp.once("message", (msg) => resolve(msg)));
    udp.send(Buffer.from([0]), port, "127.0.0.1");
    const got = await Promise.race([reply, sleep(3000).then(() => null)]);
    udp.close();
    assert.ok(got, "a reply");
    assert.equal(got.length, 1);
  });
});
