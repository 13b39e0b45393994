// fetchImageStream against a real (insecure, loopback) gRPC server.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, Metadata, Server, ServerCredentials, status } from "@grpc/grpc-js";
import { type AgentChannelClient, type AgentChannelHandlers, loadMaroProto } from "@maro/proto";
import { fetchImageStream } from "../src/images/fetch.js";

const GOOD = "a".repeat(64);
const BROKEN = "b".repeat(64);

describe("fetchImageStream", () => {
  let server: Server;
  let client: AgentChannelClient;
  let cancelled = 0;

  before(async () => {
    const proto = loadMaroProto();
    server = new Server();
    const handlers: Pick<AgentChannelHandlers, "FetchImage"> = {
      FetchImage: (call) => {
        call.on("cancelled", () => cancelled++);
        if (call.request.sha256 === GOOD) {
          for (let i = 0; i < 3; i++) call.write({ data: Buffer.alloc(1024, i) });
          call.end();
          return;
        }
        if (call.request.sha256 === BROKEN) {
          call.write({ data: Buffer.alloc(10) });
          const metadata = new Metadata();
          call.emit("error", { code: status.UNAVAILABLE, details: "disk went away", metadata });
          return;
        }
        if (call.request.sha256 === "c".repeat(64)) {
          // Endless: the client stops early.
          const more = () => {
            while (!call.cancelled && call.write({ data: Buffer.alloc(64 * 1024) })) {}
            if (!call.cancelled) call.once("drain", more);
          };
          more();
          return;
        }
        call.emit("error", {
          code: status.INVALID_ARGUMENT,
          details: `image ${call.request.sha256} is not stored on the master`,
        });
      },
    };
    server.addService(proto.maro.v1.AgentChannel.service, handlers as AgentChannelHandlers);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    client = new proto.maro.v1.AgentChannel(
      `127.0.0.1:${port}`,
      credentials.createInsecure(),
    ) as unknown as AgentChannelClient;
  });

  after(() => {
    client.close();
    server.forceShutdown();
  });

  it("yields the chunks in order", async () => {
    const got: Buffer[] = [];
    for await (const chunk of fetchImageStream(client, GOOD)) got.push(chunk);
    assert.deepEqual(
      got.map((b) => [b.length, b[0]]),
      [
        [1024, 0],
        [1024, 1],
        [1024, 2],
      ],
    );
  });

  it("throws the master's reason with the gRPC status", async () => {
    await assert.rejects(async () => {
      for await (const _ of fetchImageStream(client, "d".repeat(64))) {
        // nothing arrives
      }
    }, /FetchImage sha256:dddddddddddd: 3 INVALID_ARGUMENT: image d+ is not stored on the master/);
    await assert.rejects(async () => {
      for await (const _ of fetchImageStream(client, BROKEN)) {
        // one chunk, then the error
      }
    }, /14 UNAVAILABLE: disk went away/);
  });

  it("cancels the call when the consumer stops early", async () => {
    const before = cancelled;
    let n = 0;
    for await (const _ of fetchImageStream(client, "c".repeat(64))) if (++n === 3) break;
    const deadline = Date.now() + 5000;
    while (cancelled === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(cancelled, before + 1);
  });
});
