import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PROTOCOL_VERSION, type RegisterOut, silentLogger } from "@maro/proto";
import { tempDir } from "../../../test/support/tmp.js";
import { Controller } from "../src/cluster/controller.js";
import { clusterKeys } from "../src/state/keys.js";
import { type RunningRedis, startRedisServer } from "../src/state/redis-server.js";
import { RedisStateStore } from "../src/state/redis-store.js";

const TTL = 3000;
const EVERY = 100;

describe("heartbeat TTL on the master's own clock", () => {
  const dir = tempDir("stall");
  let redis: RunningRedis;
  let store: RedisStateStore;
  let t = 1_000_000;
  let controller: Controller;

  before(async () => {
    redis = await startRedisServer({ dir: join(dir.path, "redis"), bind: ["127.0.0.1"], port: 0 });
    store = new RedisStateStore({ url: redis.url, cluster: "stall" });
    await store.connect();
    controller = new Controller({
      store,
      dispatch: {
        clusterId: "c",
        clusterName: "stall",
        redis: { host: redis.host, port: redis.port, password: redis.password },
        mountSource: "",
        rosterKey: clusterKeys("stall").roster,
      },
      log: silentLogger,
      heartbeatTtlMs: TTL,
      stopGraceSeconds: 1,
      now: () => t,
    });
    await controller.init();
    const reg = {
      protocolVersion: PROTOCOL_VERSION,
      agentVersion: "test",
      nodeName: "n1",
      clusterName: "stall",
      address: "127.0.0.1",
      allocatable: { cpuMillis: 1000, memoryBytes: 1024 ** 3, gpu: 0 },
      gpuIndices: [],
      runtime: "process",
      containers: [],
      labels: {},
    } as unknown as RegisterOut;
    await controller.registerAgent(reg, { send: () => {}, close: () => {} });
  });

  after(async () => {
    await store.close();
    await redis.stop();
    dir.remove();
  });

  const state = () => controller.getNode("n1").state;
  /** Advances the clock in check-sized steps, checking each time. */
  const run = async (ms: number) => {
    for (let passed = 0; passed < ms; passed += EVERY) {
      t += EVERY;
      await controller.checkHeartbeats(EVERY);
    }
  };

  test("a stall of the master's event loop is not counted against nodes", async () => {
    await run(1000);
    t += 5000; // the loop was blocked for 5 s: heartbeats may wait unread
    await controller.checkHeartbeats(EVERY);
    assert.equal(state(), "ready");
    await run(1500);
    assert.equal(state(), "ready", "still within the TTL once the stall is discounted");
  });

  test("a node silent for the TTL on a running clock is marked down within one check", async () => {
    controller.heartbeat("n1");
    await run(TTL);
    assert.equal(state(), "ready", "not before the TTL");
    await run(EVERY);
    assert.equal(state(), "down");
  });
});
