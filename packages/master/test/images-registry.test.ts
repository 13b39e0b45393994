// ImageRegistry against a real Redis, and its gRPC handlers over a real
// (insecure, loopback) gRPC server.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { credentials, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import {
  type AgentChannelClient,
  type FetchImageChunkOut,
  type FileChunkOut,
  type ImageInfoOut,
  type ImageListResponseOut,
  loadMaroProto,
  type MasterClient,
} from "@maro/proto";
import { Redis } from "ioredis";
import { eventually, tempDir } from "../../../test/support/tmp.js";
import { MaroError } from "../src/errors.js";
import { fetchImageHandler, imageHandlers } from "../src/images/handlers.js";
import { imageKeys } from "../src/images/keys.js";
import { imageReferenceProblem } from "../src/images/reference.js";
import { ImageRegistry } from "../src/images/registry.js";
import { type RunningRedis, startRedisServer } from "../src/state/redis-server.js";

const CLUSTER = "images";
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

type Chunk = Pick<FileChunkOut, "body" | "header" | "data" | "end">;

function chunks(name: string, bytes: Buffer, overrides: { size?: number; sha256?: string; piece?: number } = {}) {
  const out: Chunk[] = [{ body: "header", header: { path: name, size: overrides.size ?? bytes.length, mode: 0o644 } }];
  const piece = overrides.piece ?? 1000;
  for (let i = 0; i < bytes.length; i += piece) out.push({ body: "data", data: bytes.subarray(i, i + piece) });
  out.push({ body: "end", end: { sha256: overrides.sha256 ?? sha(bytes) } });
  return out;
}

async function* from(list: Chunk[], failAfter?: number): AsyncGenerator<FileChunkOut> {
  let n = 0;
  for (const c of list) {
    if (failAfter !== undefined && n++ === failAfter) throw new Error("client went away");
    await new Promise((r) => setImmediate(r));
    yield c as FileChunkOut;
  }
}

const isInvalid = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof MaroError, `expected a MaroError, got ${String(err)}`);
  assert.equal(err.code, "INVALID_ARGUMENT");
  assert.match(err.message, pattern);
  return true;
};

describe("ImageRegistry (real Redis)", () => {
  const dir = tempDir("images");
  const imagesDir = join(dir.path, "shared", "images");
  let server: RunningRedis;
  let redis: Redis;
  let registry: ImageRegistry;
  const keys = imageKeys(CLUSTER);

  /** Files in the images dir, temp files included. */
  const files = () => (existsSync(imagesDir) ? readdirSync(imagesDir).sort() : []);

  before(async () => {
    server = await startRedisServer({ dir: join(dir.path, "redis"), bind: ["127.0.0.1"], port: 0 });
    redis = new Redis({ host: server.host, port: server.port, password: server.password });
    registry = new ImageRegistry({ dir: imagesDir, redis, cluster: CLUSTER, now: () => 1234 });
  });

  after(async () => {
    redis.disconnect();
    await server.stop();
    dir.remove();
  });

  test("a push is stored as <sha256>.tar, recorded and listed", async () => {
    const bytes = randomBytes(5000);
    const info = await registry.receive(from(chunks("maro/app:v1", bytes)));
    assert.deepEqual(info, { name: "maro/app:v1", sha256: sha(bytes), size: 5000, pushedAtMs: 1234, nodes: [] });
    assert.deepEqual(files(), [`${sha(bytes)}.tar`]);
    assert.ok(readFileSync(join(imagesDir, `${sha(bytes)}.tar`)).equals(bytes));
    assert.deepEqual(await registry.list(), [info]);
    assert.deepEqual(await registry.byName("maro/app:v1"), info);
    assert.equal(await registry.byName("maro/app:v2"), null);
    assert.equal(await registry.byName("Not Valid"), null);
    const raw = await redis.hget(keys.images, "maro/app:v1");
    assert.deepEqual(JSON.parse(raw ?? "null"), {
      name: "maro/app:v1",
      sha256: sha(bytes),
      size: 5000,
      pushedAtMs: 1234,
    });

    // The same content again (under another name too) is fine.
    await registry.receive(from(chunks("maro/app:v1", bytes)));
    await registry.receive(from(chunks("maro/other", bytes)));
    assert.deepEqual(files(), [`${sha(bytes)}.tar`]);
    assert.deepEqual(
      (await registry.list()).map((i) => i.name),
      ["maro/app:v1", "maro/other:latest"],
    );
    assert.equal((await registry.byName("maro/other"))?.sha256, sha(bytes), "a missing tag means latest");

    const read: Buffer[] = [];
    for await (const piece of registry.open(sha(bytes))) read.push(piece as Buffer);
    assert.ok(Buffer.concat(read).equals(bytes));
  });

  test("a wrong sha256 is rejected and leaves no file and no record", async () => {
    const before = files();
    const bytes = randomBytes(3000);
    await assert.rejects(
      registry.receive(from(chunks("maro/bad-sha:1", bytes, { sha256: sha(Buffer.from("other")) }))),
      isInvalid(/sha256 mismatch/),
    );
    await assert.rejects(
      registry.receive(from(chunks("maro/bad-sha:1", bytes, { sha256: "xyz" }))),
      isInvalid(/not 64 hex digits/),
    );
    assert.deepEqual(files(), before);
    assert.equal(await registry.byName("maro/bad-sha:1"), null);
  });

  test("a size that does not match the header is rejected", async () => {
    const before = files();
    const bytes = randomBytes(3000);
    await assert.rejects(
      registry.receive(from(chunks("maro/size:1", bytes, { size: 4000 }))),
      isInvalid(/received 3000 bytes, the header announced 4000/),
    );
    await assert.rejects(
      registry.receive(from(chunks("maro/size:1", bytes, { size: 2000 }))),
      isInvalid(/more than the 2000 bytes/),
    );
    await assert.rejects(
      registry.receive(from(chunks("maro/size:1", bytes)), 2999),
      isInvalid(/over the limit of 2999 bytes/),
    );
    assert.deepEqual(files(), before);
    assert.equal(await registry.byName("maro/size:1"), null);
  });

  test("bad names and malformed streams are rejected with the problem named", async () => {
    const bytes = randomBytes(100);
    for (const [name, pattern] of [
      ["", /empty/],
      ["Maro/App", /not a valid repository name/],
      ["maro//app", /not a valid repository name/],
      ["-app", /not a valid repository name/],
      ["app:", /tag "" is not valid/],
      ["app:.x", /tag ".x" is not valid/],
      [`app:${"t".repeat(129)}`, /tag/],
      ["localhost:5000/app:1", /tag|repository/],
      ["app@sha256:abc", /not a valid repository name/],
      [`${"a".repeat(256)}:1`, /longer than 255/],
    ] as const) {
      await assert.rejects(registry.receive(from(chunks(name, bytes))), isInvalid(pattern), name);
    }
    assert.equal(imageReferenceProblem("registry.example/team/app_x:v1.2-rc"), null);
    assert.equal(imageReferenceProblem("a__b-c.d/e"), null);

    const list = chunks("maro/shape:1", bytes);
    const [header, ...rest] = list;
    assert.ok(header);
    await assert.rejects(registry.receive(from(rest)), isInvalid(/must start with a header/));
    await assert.rejects(registry.receive(from([])), isInvalid(/sent nothing/));
    await assert.rejects(registry.receive(from(list.slice(0, -1))), isInvalid(/without an end chunk/));
    await assert.rejects(registry.receive(from([...list, ...rest])), isInvalid(/after the end chunk/));
    await assert.rejects(registry.receive(from([header, header, ...rest])), isInvalid(/second header/));
    assert.equal(files().filter((f) => f.endsWith(".partial")).length, 0);
    assert.equal(await registry.byName("maro/shape:1"), null);
  });

  test("a push aborted mid-stream leaves no partial file", async () => {
    const before = files();
    const bytes = randomBytes(10_000);
    await assert.rejects(
      registry.receive(from(chunks("maro/abort:1", bytes), 4)),
      isInvalid(/push of maro\/abort:1 was interrupted: client went away/),
    );
    assert.deepEqual(files(), before);
    assert.equal(await registry.byName("maro/abort:1"), null);
  });

  test("markNode shows in list and byName", async () => {
    const bytes = randomBytes(700);
    const info = await registry.receive(from(chunks("maro/nodes:1", bytes)));
    await registry.markNode(info.sha256, "node-b", true);
    await registry.markNode(info.sha256, "node-a", true);
    assert.deepEqual((await registry.byName("maro/nodes:1"))?.nodes, ["node-a", "node-b"]);
    await registry.markNode(info.sha256, "node-b", false);
    const listed = (await registry.list()).find((i) => i.name === "maro/nodes:1");
    assert.deepEqual(listed?.nodes, ["node-a"]);
    await assert.rejects(registry.markNode("nope", "node-a", true), isInvalid(/not a sha256/));
  });

  test("open refuses malformed and unknown hashes", () => {
    assert.throws(() => registry.open("../../etc/passwd"), isInvalid(/not a sha256/));
    assert.throws(() => registry.open("a".repeat(64)), isInvalid(/is not stored/));
  });

  test("sweepPartials removes temp files a crashed master left", async () => {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(imagesDir, ".0123abcd.partial"), "x");
    assert.equal(await registry.sweepPartials(), 1);
    assert.equal(files().filter((f) => f.endsWith(".partial")).length, 0);
  });

  describe("over gRPC", () => {
    let grpcServer: Server;
    let master: MasterClient;
    let agent: AgentChannelClient;
    let deny = false;

    before(async () => {
      const proto = loadMaroProto();
      grpcServer = new Server();
      const authorize = (call: { getPath(): string }) => {
        if (deny) throw new MaroError("PERMISSION_DENIED", `may not call ${call.getPath()}`);
      };
      grpcServer.addService(proto.maro.v1.Master.service, imageHandlers(registry, authorize));
      grpcServer.addService(proto.maro.v1.AgentChannel.service, fetchImageHandler(registry, authorize));
      const port = await new Promise<number>((resolve, reject) =>
        grpcServer.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      );
      master = new proto.maro.v1.Master(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as MasterClient;
      agent = new proto.maro.v1.AgentChannel(
        `127.0.0.1:${port}`,
        credentials.createInsecure(),
      ) as unknown as AgentChannelClient;
    });

    after(() => {
      master.close();
      agent.close();
      grpcServer.forceShutdown();
    });

    const push = (list: Chunk[]) =>
      new Promise<ImageInfoOut>((resolve, reject) => {
        const call = master.ImagePush((err, res) => (err || !res ? reject(err) : resolve(res)));
        for (const c of list) call.write(c);
        call.end();
      });

    test("ImagePush stores, ImageList lists, FetchImage streams it back in 1 MiB chunks", async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      const info = await push(chunks("maro/grpc:1", bytes, { piece: 1024 * 1024 }));
      assert.equal(info.sha256, sha(bytes));
      const listed = await new Promise<ImageListResponseOut>((resolve, reject) =>
        master.ImageList({}, (err, res) => (err || !res ? reject(err) : resolve(res))),
      );
      assert.ok(listed.images.some((i) => i.name === "maro/grpc:1" && i.size === bytes.length));

      const got: Buffer[] = [];
      const stream = agent.FetchImage({ sha256: info.sha256 });
      for await (const c of stream as AsyncIterable<FetchImageChunkOut>) {
        got.push(c.data);
        // A slow reader: the server must wait for it, not buffer everything.
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(got.length, 4);
      assert.ok(got.slice(0, 3).every((c) => c.length === 1024 * 1024));
      assert.ok(Buffer.concat(got).equals(bytes));
    });

    test("a rejected push is an INVALID_ARGUMENT with the reason and the maro-error-code trailer", async () => {
      const bytes = randomBytes(2000);
      const err = await push(chunks("maro/grpc:bad", bytes, { sha256: sha(Buffer.from("x")) })).then(
        () => assert.fail("push succeeded"),
        (e: ServiceError) => e,
      );
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /sha256 mismatch/);
      assert.deepEqual(err.metadata.get("maro-error-code"), ["INVALID_ARGUMENT"]);
      assert.equal(files().filter((f) => f.endsWith(".partial")).length, 0);
    });

    test("a push cancelled by the client leaves no partial file", async () => {
      const before = files();
      const bytes = randomBytes(4 * 1024 * 1024);
      const call = master.ImagePush(() => {});
      const list = chunks("maro/grpc:cancelled", bytes, { piece: 1024 * 1024 });
      for (const c of list.slice(0, 3)) call.write(c);
      await eventually(() => files().some((f) => f.endsWith(".partial")), 5000, "the push to start");
      call.cancel();
      await eventually(() => files().join() === before.join(), 5000, "the temp file to go");
      assert.equal(await registry.byName("maro/grpc:cancelled"), null);
    });

    test("every call is authorised first", async () => {
      deny = true;
      try {
        const err = await push(chunks("maro/grpc:denied", randomBytes(10))).then(
          () => assert.fail("push succeeded"),
          (e: ServiceError) => e,
        );
        assert.equal(err.code, status.PERMISSION_DENIED);
        assert.match(err.details, /may not call \/maro.v1.Master\/ImagePush/);
        await assert.rejects(
          new Promise((resolve, reject) => master.ImageList({}, (e, r) => (e ? reject(e) : resolve(r)))),
          (e: ServiceError) => e.code === status.PERMISSION_DENIED,
        );
        const stream = agent.FetchImage({ sha256: "c".repeat(64) });
        await assert.rejects(
          (async () => {
            for await (const _ of stream as AsyncIterable<FetchImageChunkOut>) {
              // nothing arrives
            }
          })(),
          (e: ServiceError) => e.code === status.PERMISSION_DENIED,
        );
        assert.equal(await registry.byName("maro/grpc:denied"), null);
      } finally {
        deny = false;
      }
    });

    test("FetchImage of an unknown sha256 fails with the reason", async () => {
      const stream = agent.FetchImage({ sha256: "b".repeat(64) });
      await assert.rejects(
        (async () => {
          for await (const _ of stream as AsyncIterable<FetchImageChunkOut>) {
            // nothing arrives
          }
        })(),
        (e: ServiceError) => e.code === status.INVALID_ARGUMENT && /is not stored/.test(e.details),
      );
    });
  });
});
