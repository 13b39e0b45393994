// Telemetry's history and event log against a real redis-server, with a
// clock the test moves: downsampling, the bounds, a restart, and what a
// flush costs in Redis commands.

import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { silentLogger } from "@maro/proto";
import { Redis } from "ioredis";
import { tempDir } from "../../../test/support/tmp.js";
import type { JobRecord, NodeRecord } from "../src/state/records.js";
import { type RunningRedis, startRedisServer } from "../src/state/redis-server.js";
import { Telemetry, type TelemetryOptions } from "../src/telemetry/index.js";
import type { SampleIn } from "../src/telemetry/types.js";

const T0 = 1_700_000_000_000;

function usage(cpu: number, mem = 1000) {
  return {
    cpuMillis: cpu,
    cpuCapacityMillis: 4000,
    memoryUsedBytes: mem,
    memoryTotalBytes: 8000,
    diskUsedBytes: 10,
    diskTotalBytes: 100,
    netRxBytesPerS: 5,
    netTxBytesPerS: 7,
    gpus: [],
  };
}

function sample(cpu: number, extra: Partial<SampleIn> = {}): SampleIn {
  return { timeMs: T0, node: usage(cpu), components: [], gone: [], full: false, ...extra };
}

/** The cluster as telemetry sees it: plain records and an emitter, as the controller offers them. */
function cluster(nodes: string[]) {
  const records: NodeRecord[] = nodes.map((name) => ({ id: name, name }) as NodeRecord);
  return {
    events: new EventEmitter(),
    listJobs: (): JobRecord[] => [],
    listNodes: () => records,
    findContainer: () => undefined,
  };
}

async function commandCounts(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const counts = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
    counts.set(m[1] ?? "", Number(m[2]));
    counts.set(`${m[1]}_usec`, Number(m[3]));
  }
  return counts;
}

function diff(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && k !== "info") out[k] = d;
  }
  return out;
}

describe("telemetry store on a real Redis", () => {
  const dir = tempDir("telemetry");
  let server: RunningRedis;
  const connections: Redis[] = [];
  const connect = async () => {
    const r = new Redis(server.url, { lazyConnect: true });
    await r.connect();
    connections.push(r);
    return r;
  };
  const make = async (cluster_: string, extra: Partial<TelemetryOptions> & Pick<TelemetryOptions, "controller">) => {
    const t = new Telemetry({
      redis: await connect(),
      cluster: cluster_,
      log: silentLogger,
      flushIntervalMs: 3_600_000,
      ...extra,
    });
    await t.start();
    return t;
  };

  before(async () => {
    server = await startRedisServer({ dir: join(dir.path, "redis"), bind: ["127.0.0.1"], port: 0 });
  });
  after(async () => {
    for (const c of connections) c.disconnect();
    await server.stop();
    dir.remove();
  });

  test("1 s samples fold into 10 s points; a node keeps at most 360 of them, the newest", async () => {
    let now = T0;
    const t = await make("bounded", { controller: cluster(["n1"]), now: () => now });
    const redis = await connect();
    // 400 buckets, two samples each (cpu b and b+2: the point holds the average, b+1).
    for (let b = 0; b < 400; b++) {
      now = T0 + b * 10_000 + 1_000;
      assert.equal(t.sample("n1", sample(b)), null);
      now += 5_000;
      assert.equal(t.sample("n1", sample(b + 2)), null);
      if (b % 50 === 0) await t.flush();
    }
    now = T0 + 400 * 10_000;
    await t.flush();
    const key = "maro:bounded:node-metrics:n1";
    assert.equal(await redis.llen(key), 360, "the list is trimmed to one hour of points");
    const ttl = await redis.pttl(key);
    assert.ok(ttl > 0 && ttl <= 7_200_000, `the list expires when the node goes quiet (pttl ${ttl})`);

    const points = await t.nodeMetrics("n1", 0);
    assert.equal(points.length, 360);
    assert.equal(points[0]?.timeMs, T0 + 40 * 10_000, "the oldest kept point is bucket 40");
    assert.equal(points.at(-1)?.timeMs, T0 + 399 * 10_000);
    for (const [i, p] of points.entries()) {
      assert.equal(p.samples, 2);
      assert.equal(p.usage.cpuMillis, 40 + i + 1, "the average of the bucket's two samples");
      assert.equal(p.usage.cpuCapacityMillis, 4000);
    }
    const since = await t.nodeMetrics("n1", T0 + 390 * 10_000);
    assert.deepEqual(
      since.map((p) => (p.timeMs - T0) / 10_000),
      [390, 391, 392, 393, 394, 395, 396, 397, 398, 399],
    );
    await t.stop();
  });

  test("history served before it is written: the open bucket and unflushed points count", async () => {
    let now = T0;
    const t = await make("fresh", { controller: cluster(["n1"]), now: () => now });
    t.sample("n1", sample(100));
    now += 10_000;
    t.sample("n1", sample(300));
    const points = await t.nodeMetrics("n1", 0);
    assert.deepEqual(
      points.map((p) => [p.timeMs - T0, p.usage.cpuMillis]),
      [
        [0, 100],
        [10_000, 300],
      ],
    );
    await assert.rejects(t.nodeMetrics("ghost", 0), /node "ghost" not found; see `maro grass node list`/);
    await t.stop();
  });

  test("a hostile sample changes nothing", async () => {
    const t = await make("hostile", { controller: cluster(["n1"]) });
    assert.equal(
      t.sample("n1", sample(100, { components: [{ containerName: "c1", cpuMillis: 5, memoryBytes: 6 }] })),
      null,
    );
    const bad: [string, SampleIn][] = [
      ["negative cpu", sample(-1)],
      ["unsafe integer", sample(2 ** 60)],
      ["NaN", sample(Number.NaN)],
      ["negative time", sample(1, { timeMs: -5 })],
      ["empty container name", sample(1, { components: [{ containerName: "", cpuMillis: 1, memoryBytes: 1 }] })],
      [
        "long container name",
        sample(1, { components: [{ containerName: "x".repeat(300), cpuMillis: 1, memoryBytes: 1 }] }),
      ],
      ["control characters", sample(1, { gone: ["c1\u001b[2J"] })],
      [
        "too many components",
        sample(1, {
          components: Array.from({ length: 1025 }, (_, i) => ({
            containerName: `c${i}`,
            cpuMillis: 1,
            memoryBytes: 1,
          })),
        }),
      ],
      [
        "gpu utilisation over 100",
        {
          ...sample(1),
          node: { ...usage(1), gpus: [{ index: 0, memoryUsedBytes: 1, memoryTotalBytes: 2, utilizationPercent: 101 }] },
        },
      ],
      [
        "duplicate gpu index",
        {
          ...sample(1),
          node: {
            ...usage(1),
            gpus: [0, 0].map((index) => ({ index, memoryUsedBytes: 1, memoryTotalBytes: 2, utilizationPercent: 1 })),
          },
        },
      ],
    ];
    for (const [what, s] of bad) {
      assert.ok(t.sample("n1", s), `${what}: refused`);
      assert.equal(t.nodeUsage("n1")?.cpuMillis, 100, `${what}: node usage unchanged`);
      assert.deepEqual(t.componentUsage("n1", "c1"), { containerName: "c1", cpuMillis: 5, memoryBytes: 6 }, what);
    }
    // Deltas may not pile up more components than a node may hold: c1 and 4095 more fill it.
    for (let i = 0; i < 4; i++)
      assert.equal(
        t.sample(
          "n1",
          sample(100, {
            components: Array.from({ length: i < 3 ? 1024 : 1023 }, (_, j) => ({
              containerName: `b${i}-${j}`,
              cpuMillis: 1,
              memoryBytes: 1,
            })),
          }),
        ),
        null,
      );
    assert.match(
      t.sample("n1", sample(100, { components: [{ containerName: "one-more", cpuMillis: 1, memoryBytes: 1 }] })) ?? "",
      /more than 4096 components/,
    );
    assert.equal(t.usage.componentCount("n1"), 4096);
    assert.equal(t.componentUsage("n1", "one-more"), null);
    await t.stop();
  });

  test("events are capped in Redis, newest kept, and a new instance (a restarted master) serves them", async () => {
    const c = cluster(["n1"]);
    const t = await make("events", { controller: c, eventsKept: 50 });
    for (let i = 0; i < 120; i++)
      c.events.emit("event", {
        timeMs: T0 + i,
        kind: "job",
        job: `j${i % 3}`,
        component: "",
        node: "",
        state: "pending",
        message: `m${i}`,
      });
    await t.stop();
    const redis = await connect();
    assert.equal(await redis.llen("maro:events:events"), 50);

    const again = await make("events", { controller: cluster(["n1"]), eventsKept: 50 });
    const all = again.listEvents({ job: "", node: "", limit: 0, anomaliesOnly: false });
    assert.equal(all.length, 50);
    assert.equal(all[0]?.message, "m70");
    assert.equal(all.at(-1)?.message, "m119", "newest last");
    const j1 = again.listEvents({ job: "j1", node: "", limit: 3, anomaliesOnly: false });
    assert.deepEqual(
      j1.map((e) => e.message),
      ["m112", "m115", "m118"],
    );
    assert.throws(() => again.listEvents({ job: "", node: "", limit: -1, anomaliesOnly: false }), /limit: -1/);
    assert.throws(() => again.listEvents({ job: "", node: "", limit: 51, anomaliesOnly: false }), /limit: 51/);
    await again.stop();
  });

  test("write cost: 10,000 nodes sampled at 1 Hz for 10 s: one pipeline of 20 script calls per flush", async () => {
    const NODES = 10_000;
    const names = Array.from({ length: NODES }, (_, i) => `node-${i}`);
    let now = T0;
    const t = await make("cost", { controller: cluster(names), now: () => now });
    const redis = await connect();
    const before = await commandCounts(redis);
    const started = process.hrtime.bigint();
    for (let s = 0; s < 10; s++) {
      now = T0 + s * 1000;
      for (const n of names) t.sample(n, sample(s));
    }
    const sampledNs = process.hrtime.bigint() - started;
    now = T0 + 10_000;
    const flushStarted = process.hrtime.bigint();
    await t.flush();
    const flushNs = process.hrtime.bigint() - flushStarted;
    const counts = diff(before, await commandCounts(redis));
    // Commands run inside the script are counted too: rpush, ltrim and pexpire once per node.
    const sent = counts.eval ?? 0;
    const executed = (counts.rpush ?? 0) + (counts.ltrim ?? 0) + (counts.pexpire ?? 0);
    console.log(
      `# write cost: ${NODES} nodes x 10 samples (10 s at 1 Hz) -> ${sent} commands sent in one pipeline ` +
        `(${(sent / 10).toFixed(1)}/s), ${executed} list operations inside Redis ` +
        `(${(executed / (NODES * 10)).toFixed(2)} per sample, ${(executed / 10).toFixed(0)}/s); ` +
        `Redis time ${((counts.eval_usec ?? 0) / 1000).toFixed(0)} ms per flush; ` +
        `ingest ${(Number(sampledNs) / 1e6).toFixed(0)} ms for ${NODES * 10} samples, flush ${(Number(flushNs) / 1e6).toFixed(0)} ms`,
    );
    assert.equal(sent, NODES / 500, "one script call per 500 nodes");
    assert.equal(counts.rpush, NODES);
    assert.equal(counts.ltrim, NODES);
    assert.equal(counts.pexpire, NODES);
    assert.equal(await redis.llen("maro:cost:node-metrics:node-9999"), 1);
    await t.stop();
  });
});
